import { PlaybackScheduler, type PlaybackStats } from './playback.js';

declare const __CAPTURE_WORKLET_URL__: string;

export type CaptureSource = 'microphone' | 'tab';

export interface AudioStats {
  framesCaptured: number;
  framesSent: number;
  playback: PlaybackStats;
  /** Peak level the output analyser has seen, 0..1: proof that dubbed samples reached the output path. */
  outputPeak: number;
}

/**
 * The page's audio: capture (microphone or a tab's audio) through the capture worklet, which posts 100-ms frames of
 * 16 kHz s16le, and playback of dubbed segments scheduled back to back on the same AudioContext's clock.
 */
export class AudioEngine {
  readonly stats: AudioStats;
  private readonly scheduler: PlaybackScheduler;
  private readonly analyser: AnalyserNode;
  private stream: MediaStream | undefined;
  private source: MediaStreamAudioSourceNode | undefined;
  private worklet: AudioWorkletNode | undefined;
  private sampleBuffer: Float32Array<ArrayBuffer> | undefined;

  private constructor(readonly context: AudioContext) {
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.analyser.connect(context.destination);
    this.scheduler = new PlaybackScheduler(context, this.analyser);
    this.stats = { framesCaptured: 0, framesSent: 0, playback: this.scheduler.stats, outputPeak: 0 };
  }

  /** Must run in a click handler: browsers start an AudioContext only on a user gesture. */
  static async create(): Promise<AudioEngine> {
    const context = new AudioContext({ latencyHint: 'interactive' });
    await context.audioWorklet.addModule(__CAPTURE_WORKLET_URL__);
    if (context.state === 'suspended') {
      await context.resume();
    }
    return new AudioEngine(context);
  }

  static tabCaptureOffered(): boolean {
    return typeof navigator.mediaDevices?.getDisplayMedia === 'function';
  }

  /** Asks for the input and starts posting frames to `onFrame`, levels to `onLevel`. */
  async startCapture(kind: CaptureSource, onFrame: (frame: ArrayBuffer) => void, onLevel: (level: number) => void): Promise<void> {
    this.stream =
      kind === 'tab'
        ? await navigator.mediaDevices.getDisplayMedia({ audio: true, video: true })
        : await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    if (this.stream.getAudioTracks().length === 0) {
      this.stopCapture();
      throw new Error('The shared tab has no audio: share a tab and tick “Share tab audio”.');
    }
    // Only the sound of a shared tab is used.
    this.stream.getVideoTracks().forEach((track) => track.stop());
    this.source = this.context.createMediaStreamSource(this.stream);
    this.worklet = new AudioWorkletNode(this.context, 'capture-processor', { numberOfInputs: 1, numberOfOutputs: 0 });
    this.worklet.port.onmessage = (event: MessageEvent<{ frame: ArrayBuffer; level: number }>) => {
      this.stats.framesCaptured++;
      onLevel(event.data.level);
      onFrame(event.data.frame);
    };
    this.source.connect(this.worklet);
  }

  /** Schedules one dubbed segment (PCM s16le at `sampleRate`) right after the previous one. */
  play(pcm: ArrayBuffer, sampleRate: number): void {
    this.scheduler.enqueue(pcm, sampleRate);
  }

  /** Reads the output analyser; called on a timer while live. */
  sampleOutput(): number {
    this.sampleBuffer ??= new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(this.sampleBuffer);
    let peak = 0;
    for (const sample of this.sampleBuffer) {
      peak = Math.max(peak, Math.abs(sample));
    }
    this.stats.outputPeak = Math.max(this.stats.outputPeak, peak);
    return peak;
  }

  stopCapture(): void {
    this.source?.disconnect();
    this.worklet?.port.close();
    this.worklet?.disconnect();
    this.stream?.getTracks().forEach((track) => track.stop());
    this.source = undefined;
    this.worklet = undefined;
    this.stream = undefined;
  }

  async close(): Promise<void> {
    this.stopCapture();
    await this.context.close();
  }
}
