import { encodeWav, WAV_HEADER_BYTES } from './wav.js';

describe(encodeWav.name, () => {
  it('writes the canonical 44-byte header for 16 kHz mono s16le, then the samples unchanged', () => {
    const pcm = Buffer.from([0x01, 0x00, 0xff, 0x7f, 0x00, 0x80]);
    const wav = encodeWav(pcm, 16000);
    expect(wav.subarray(0, WAV_HEADER_BYTES).toString('hex')).toBe(
      [
        '52494646', // "RIFF"
        '2a000000', // 42 = 36 + 6 data bytes
        '57415645', // "WAVE"
        '666d7420', // "fmt "
        '10000000', // fmt chunk: 16 bytes
        '0100', // format 1: PCM
        '0100', // 1 channel
        '803e0000', // 16000 Hz
        '007d0000', // 32000 bytes per second
        '0200', // 2 bytes per frame
        '1000', // 16 bits per sample
        '64617461', // "data"
        '06000000', // 6 data bytes
      ].join(''),
    );
    expect(wav.subarray(WAV_HEADER_BYTES)).toEqual(pcm);
    expect(wav).toHaveLength(50);
  });

  it('writes the rate it is given and its byte rate', () => {
    const wav = encodeWav(Buffer.alloc(0), 24000);
    expect(wav.readUInt32LE(24)).toBe(24000);
    expect(wav.readUInt32LE(28)).toBe(48000);
    expect(wav.readUInt32LE(4)).toBe(36);
    expect(wav.readUInt32LE(40)).toBe(0);
  });

  it('refuses a buffer that is not whole 16-bit samples', () => {
    expect(() => encodeWav(Buffer.alloc(3), 16000)).toThrow('PCM must hold whole 16-bit samples, got 3 bytes');
  });
});
