/** Dubbed audio arrives as PCM s16le, mono, at `ready.audio.sample_rate_hz` (16 kHz; docs/protocol.md, "Audio"). */
export function s16leToFloat32(data: ArrayBuffer): Float32Array<ArrayBuffer> {
  const view = new DataView(data);
  const samples = new Float32Array(Math.floor(data.byteLength / 2));
  for (let i = 0; i < samples.length; i++) {
    samples[i] = view.getInt16(i * 2, true) / 0x8000;
  }
  return samples;
}
