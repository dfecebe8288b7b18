import { execFileSync } from 'node:child_process';
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

/**
 * Speech for the fake microphone: espeak-ng's voice, resampled with sox to 48 kHz mono s16, each sentence followed by
 * a second of silence so the service's voice-activity detection cuts segments.
 */
export function speechWav(sentences: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'web-speech-'));
  const parts = sentences.map((sentence, i) => {
    const raw = join(dir, `raw-${i}.wav`);
    execFileSync('espeak-ng', ['-v', 'en', '-s', '150', '-w', raw, sentence]);
    const padded = join(dir, `part-${i}.wav`);
    execFileSync('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', padded, 'pad', '0', '1.2']);
    return padded;
  });
  const wav = join(dir, 'speech.wav');
  if (parts.length === 1) {
    execFileSync('sox', [parts[0], wav]);
  } else {
    execFileSync('sox', [...parts, wav]);
  }
  return wav;
}
