import { downmix, PcmFramer, rms, StreamingResampler } from '../src/resampler.js';

/**
 * Runs on the audio rendering thread: downmixes each render quantum to mono, resamples it from the context's rate to
 * 16 kHz s16le and posts every 100-ms frame (3 200 bytes, docs/protocol.md "Audio") to the page, with a level for the
 * meter about ten times a second.
 */
class CaptureProcessor extends AudioWorkletProcessor {
  private readonly resampler = new StreamingResampler(sampleRate);
  private readonly framer = new PcmFramer();
  private level = 0;

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    if (channels === undefined || channels.length === 0) {
      return true;
    }
    const mono = downmix(channels);
    this.level = Math.max(this.level * 0.9, rms(mono));
    for (const frame of this.framer.push(this.resampler.process(mono))) {
      this.port.postMessage({ frame, level: this.level }, [frame]);
    }
    return true;
  }
}

registerProcessor('capture-processor', CaptureProcessor);
