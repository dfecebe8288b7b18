/**
 * The audio of both directions (docs/protocol.md, "Audio"): binary frames of PCM s16le (LINEAR16), mono, 16 kHz. The
 * `ready` message repeats it as `audio`.
 */
export const AUDIO_FORMAT = { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 } as const;

/** A client's audio frame: even length, 2 bytes at least, at most `WS_MAX_AUDIO_FRAME_BYTES` (65 536 by default). */
export const AUDIO_FRAME_MIN_BYTES = 2;
export const AUDIO_FRAME_DEFAULT_MAX_BYTES = 65_536;
/** 100 ms of audio, the typical frame. */
export const AUDIO_FRAME_TYPICAL_BYTES = 3_200;
/** A text frame is at most 16 KiB of UTF-8 JSON. */
export const TEXT_FRAME_MAX_BYTES = 16_384;

/** The paths of the two live gateways (docs/protocol.md, "Endpoints"). */
export const LIVE_PATHS = { dubbing: '/ws/live-dubbing', subtitles: '/ws/live-subtitles' } as const;
export type LivePath = (typeof LIVE_PATHS)[keyof typeof LIVE_PATHS];
