/** 16 kHz mono s16le test audio: a 440-Hz tone (speech stand-in) between silences, in 100-ms frames. */
export const SAMPLE_RATE = 16000;
export const FRAME_MS = 100;
export const FRAME_BYTES = (SAMPLE_RATE * 2 * FRAME_MS) / 1000;

export function tone(ms: number, amplitude = 8000): Buffer {
  const samples = (SAMPLE_RATE * ms) / 1000;
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE)), i * 2);
  }
  return pcm;
}

export function silence(ms: number): Buffer {
  return Buffer.alloc(((SAMPLE_RATE * ms) / 1000) * 2);
}

export function frames(pcm: Buffer, frameBytes = FRAME_BYTES): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < pcm.length; offset += frameBytes) {
    out.push(pcm.subarray(offset, offset + frameBytes));
  }
  return out;
}

/** One second of "speech" followed by half a second of silence, as 100-ms frames. */
export function speech(): Buffer[] {
  return frames(Buffer.concat([silence(200), tone(1000), silence(500)]));
}
