import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from '@playwright/test';

/** Debian's Chromium (`.ci/run` installs it); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface TestBrowser {
  /** The browser's one (persistent) context: each page a test opens is a tab of its own, with its own session storage. */
  browser: BrowserContext;
  close(): Promise<void>;
}

/**
 * A headless Chromium with a fake microphone that plays `wav` in a loop and grants media permissions without asking,
 * in a fresh profile. The background-networking flags keep it from calling out of a closed network, where those
 * connections are refused and slow everything down.
 */
export async function launchBrowser(wav: string): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'web-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The fake microphone's file, and how long the speech of each sentence lasts without its leading and trailing silence. */
export interface SpeechWav {
  path: string;
  speechSeconds: number[];
}

/**
 * Speech for the fake microphone: espeak-ng's voice, resampled with sox to 48 kHz mono s16, each sentence followed by
 * 1.2 s of silence so the service's voice-activity detection cuts segments.
 */
export function speechWav(sentences: string[]): SpeechWav {
  const dir = mkdtempSync(join(tmpdir(), 'web-speech-'));
  const speechSeconds: number[] = [];
  const parts = sentences.map((sentence, i) => {
    const raw = join(dir, `raw-${i}.wav`);
    execFileSync('espeak-ng', ['-v', 'en', '-s', '150', '-w', raw, sentence]);
    speechSeconds.push(trimmedSeconds(raw));
    const padded = join(dir, `part-${i}.wav`);
    execFileSync('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', padded, 'pad', '0', '1.2']);
    return padded;
  });
  const path = join(dir, 'speech.wav');
  execFileSync('sox', [...parts, path]);
  return { path, speechSeconds };
}

/** The length of a file's sound between its first and last sample above 1 % of full scale. */
function trimmedSeconds(wav: string): number {
  const stat = spawnSync('sox', [wav, '-n', 'silence', '1', '0.01', '1%', 'reverse', 'silence', '1', '0.01', '1%', 'reverse', 'stat'], {
    encoding: 'utf8',
  });
  const match = /Length \(seconds\):\s+([\d.]+)/.exec(stat.stderr);
  if (match === null) {
    throw new Error(`sox could not measure ${wav}: ${stat.stderr}`);
  }
  return Number(match[1]);
}
