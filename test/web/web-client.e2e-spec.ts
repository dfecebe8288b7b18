import { jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { projectRoot } from '../../src/database/embedded-database.js';
import { launchBrowser, speechWav, type TestBrowser } from '../harness/browser.js';
import { testDatabaseUri } from '../harness/database.js';
import { openDatabaseContext, type DatabaseContext } from '../harness/database-context.js';
import { viewer, waitUntil, type Viewer } from '../harness/live.js';
import { FAULT_ENV, startInstance, stopAllProcesses, type ServiceInstance } from '../harness/processes.js';

/*
 * The web client (web/, served at `/`) in a real headless Chromium whose fake microphone plays synthetic speech,
 * against the real service as its own process on the embedded database, with the loopback speech provider.
 */

const SCREENSHOTS = join(projectRoot(), 'test-results', 'web');

/** 10 credits a second, so balances move visibly in seconds; a 2-s hold (20 credits) at the opening. */
const SERVICE_ENV = {
  ...FAULT_ENV,
  BETA_FEATURES_ENABLED: 'true',
  BETA_CREDITS_PER_SECOND: '10',
  BETA_PREAUTH_SECONDS: '2',
  DUBBING_PROVIDER: 'loopback',
};

interface Probe {
  state: string;
  transcripts: number;
  translations: number;
  readies: number;
  resumed: number;
  audio?: {
    framesCaptured: number;
    framesSent: number;
    outputPeak: number;
    playback: { scheduledSamples: number; scheduledSegments: number };
  };
}

jest.setTimeout(120_000);

describe('Web client in Chromium', () => {
  let uri: string;
  let instance: ServiceInstance;
  let ctx: DatabaseContext;
  let browser: TestBrowser;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const wav = speechWav(['Good evening, and welcome to the news.', 'Here is the weather for tomorrow.']);
    uri = testDatabaseUri('web');
    instance = await startInstance({ MONGODB_URI: uri, ...SERVICE_ENV }, { label: 'web' });
    ctx = await openDatabaseContext(uri);
    browser = await launchBrowser(wav);
  });

  afterAll(async () => {
    await browser?.close();
    await stopAllProcesses();
    await ctx?.connection.dropDatabase();
    await ctx?.close();
  });

  async function openPage(v: Viewer): Promise<Page> {
    const page = await browser.browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    (page as unknown as { problems: string[] }).problems = problems;
    await page.goto(`${instance.baseUrl}/#token=${v.token}`);
    await page.locator('#channel-select').selectOption(v.channel.id);
    return page;
  }

  function probe(page: Page): Promise<Probe> {
    return page.evaluate(() => (globalThis as unknown as { liveDubbing: Probe }).liveDubbing);
  }

  async function until(page: Page, done: (p: Probe) => boolean, timeoutMs = 20_000): Promise<Probe> {
    return waitUntil(async () => {
      const p = await probe(page);
      return done(p) ? p : undefined;
    }, timeoutMs);
  }

  /** The page at 1280 px and at 390 px width, under test-results/web/. */
  async function screenshots(page: Page, name: string): Promise<void> {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-390.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  it('is served at / with its own content security policy and caching; the API and /docs keep theirs', async () => {
    const page = await fetch(`${instance.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<style>| style=/);
    const assets = [...html.matchAll(/(?:src|href)="\/([\w.-]+-[A-Z0-9]{8}\.(?:js|css))"/g)].map((m) => m[1]);
    expect(assets).toHaveLength(2);
    for (const asset of assets) {
      const response = await fetch(`${instance.baseUrl}/${asset}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    const api = await fetch(`${instance.baseUrl}/api/v1/channels`);
    expect(api.status).toBe(401);
    expect(api.headers.get('content-security-policy')).toContain("default-src 'none'");
    const docs = await fetch(`${instance.baseUrl}/docs/`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-security-policy')).toContain("style-src 'self' 'unsafe-inline'");
    expect((await fetch(`${instance.baseUrl}/index.html`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${instance.baseUrl}/../package.json`)).status).toBe(404);
  });

  it('a beta viewer streams speech: transcript and translation appear, credits count down, dubbed audio plays', async () => {
    const v = await viewer(ctx.app, { credits: 1000 });
    const page = await openPage(v);
    await screenshots(page, 'ready-to-start');
    await page.getByRole('button', { name: 'Start dubbing' }).click();
    await page.locator('.connection[data-state="live"]').waitFor();
    await page.locator('#credits').waitFor();
    await page.locator('.timeline li.translated').first().waitFor({ timeout: 30_000 });
    const p = await until(page, (p) => (p.audio?.playback.scheduledSamples ?? 0) > 0 && (p.audio?.outputPeak ?? 0) > 0.01);
    expect(p.audio!.framesSent).toBeGreaterThan(10);
    await expect(page.locator('.timeline .source').first().textContent()).resolves.toMatch(/speech segment 1/);
    await expect(page.locator('.timeline .target').first().textContent()).resolves.toMatch(/→ en/);
    await waitUntil(async () => Number((await page.locator('#credits-remaining').textContent())?.replace(/,/g, '')) < 1000, 10_000);
    await screenshots(page, 'beta-live');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.connection[data-state="ended"]').waitFor();
    expect((page as unknown as { problems: string[] }).problems).toEqual([]);
    await page.close();
  });
});
