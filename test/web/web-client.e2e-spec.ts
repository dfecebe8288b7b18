import { jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { BetaCreditsService } from '../../src/beta/credits/beta-credits.service.js';
import { projectRoot } from '../../src/database/embedded-database.js';
import { launchBrowser, speechWav, type SpeechWav, type TestBrowser } from '../harness/browser.js';
import { testDatabaseUri } from '../harness/database.js';
import { openDatabaseContext, type DatabaseContext } from '../harness/database-context.js';
import { sleep, viewer, waitUntil, type Viewer } from '../harness/live.js';
import { FAULT_ENV, startInstance, stopAllProcesses, withInstanceLogs, type ServiceInstance } from '../harness/processes.js';

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
  sessionId?: string;
  betaSessionId?: string;
  summary?: any;
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
  let speech: SpeechWav;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    speech = speechWav(['Good evening, and welcome to the news.', 'Here is the weather for tomorrow.']);
    uri = testDatabaseUri('web');
    instance = await startInstance({ MONGODB_URI: uri, ...SERVICE_ENV }, { label: 'web' });
    ctx = await openDatabaseContext(uri);
    browser = await launchBrowser(speech.path);
  });

  afterAll(async () => {
    await browser?.close();
    await stopAllProcesses();
    await ctx?.connection.dropDatabase();
    await ctx?.close();
  });

  function problems(page: Page): string[] {
    return (page as unknown as { problems: string[] }).problems;
  }

  async function openPage(v: Viewer, service: ServiceInstance = instance): Promise<Page> {
    const page = await browser.browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    (page as unknown as { problems: string[] }).problems = problems;
    await page.goto(`${service.baseUrl}/#token=${v.token}`);
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
    // Usable at 390 px: nothing wider than the screen.
    expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
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
    // A promotion that expires: the widget says how much, and when.
    const expiresAt = new Date(Date.now() + 14 * 86_400_000);
    await ctx.app
      .get(BetaCreditsService)
      .grant({ email: v.user.email, amount: 40, key: `promo:${v.user.id}`, reason: 'promotion', priority: 0, expiresAt });
    const page = await openPage(v);
    await page.locator('#credits-expiry').waitFor();
    await expect(page.locator('#credits-expiry').textContent()).resolves.toMatch(/^40 credits expire on \w{3} \d{1,2}, \d{4}, /);
    await expect(page.locator('#credits-remaining').textContent()).resolves.toBe('1,040');
    await screenshots(page, 'ready-to-start');
    await page.getByRole('button', { name: 'Start dubbing' }).click();
    await page.locator('.connection[data-state="live"]').waitFor();
    await page.locator('#credits').waitFor();
    await page.locator('.timeline li.translated').first().waitFor({ timeout: 30_000 });
    const p = await until(page, (p) => (p.audio?.playback.scheduledSamples ?? 0) > 0 && (p.audio?.outputPeak ?? 0) > 0.01);
    expect(p.audio!.framesSent).toBeGreaterThan(10);
    await expect(page.locator('.timeline .source').first().textContent()).resolves.toMatch(/speech segment 1/);
    await expect(page.locator('.timeline .target').first().textContent()).resolves.toMatch(/→ en/);
    await waitUntil(async () => Number((await page.locator('#credits-remaining').textContent())?.replace(/,/g, '')) < 1040, 10_000);
    // The capture resamples to 16 kHz exactly: the service measures each segment as long as the sentence spoken (the
    // first may start mid-sentence, when the session went live after the microphone).
    await page.locator('.timeline .source').nth(2).waitFor({ timeout: 20_000 });
    const measured = (await page.locator('.timeline .source').allTextContents()).map((text) => Number(/, ([\d.]+) s$/.exec(text)![1]));
    for (const seconds of measured.slice(1)) {
      expect(Math.min(...speech.speechSeconds.map((spoken) => Math.abs(spoken - seconds)))).toBeLessThan(0.35);
    }
    await screenshots(page, 'beta-live');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.connection[data-state="ended"]').waitFor();
    expect(problems(page)).toEqual([]);
    await page.close();
  });

  it('shows each credit warning once on a small balance, then the exhausted state with an upgrade action', async () => {
    // 200 credits at 10 a second: 20 % (40 credits) after 16 s, 10 % after 18 s, 5 % after 19 s, none left after 20 s.
    const v = await viewer(ctx.app, { credits: 200 });
    const page = await openPage(v);
    await page.getByRole('button', { name: 'Start dubbing' }).click();
    await page.locator('.connection[data-state="live"]').waitFor();
    const warnings = page.locator('#credit-warnings li');
    await warnings.nth(1).waitFor({ timeout: 25_000 });
    await screenshots(page, 'credit-warnings');
    await page.locator('#credits[data-level="empty"]').waitFor({ timeout: 15_000 });
    await expect(page.locator('#notice-message').textContent()).resolves.toBe('Beta credits exhausted');
    await expect(page.locator('#notice-title').textContent()).resolves.toBe('Beta credits used up');
    expect(await warnings.allTextContents()).toEqual([
      expect.stringMatching(/^20 % of your beta credits left: \d+ credits/),
      expect.stringMatching(/^10 % of your beta credits left/),
      expect.stringMatching(/^5 % of your beta credits left/),
      'Beta credits exhausted',
    ]);
    await expect(page.locator('#credits-remaining').textContent()).resolves.toBe('0');
    await expect(page.locator('#credits-time').textContent()).resolves.toBe('No live dubbing time left.');
    await expect(page.getByRole('button', { name: 'Start dubbing' }).isVisible()).resolves.toBe(true);
    await page.getByRole('link', { name: 'Upgrade your plan' }).click();
    await expect(page.locator('#upgrade').evaluate((node) => (node as any).ownerDocument.activeElement === node)).resolves.toBe(true);
    await screenshots(page, 'credits-exhausted');
    const p = await probe(page);
    expect(p.state).toBe('ended');
    expect(await ctx.debited(p.betaSessionId!)).toBe(200);
    expect(problems(page)).toEqual([]);
    await page.close();
  });

  it('shows the refusal for insufficient credits at the opening, with an upgrade action', async () => {
    // The opening holds 2 s × 10 credits; 15 are not enough.
    const v = await viewer(ctx.app, { credits: 15 });
    const page = await openPage(v);
    await page.locator('#credits').waitFor();
    await expect(page.locator('#credits-remaining').textContent()).resolves.toBe('15');
    await page.getByRole('button', { name: 'Start dubbing' }).click();
    await page.locator('#notice').waitFor();
    await expect(page.locator('#notice-message').textContent()).resolves.toBe('Insufficient beta credits for live dubbing');
    await expect(page.getByRole('link', { name: 'Upgrade your plan' }).isVisible()).resolves.toBe(true);
    await expect(page.locator('#credits-time').textContent()).resolves.toBe('Not enough to start a live dubbing session.');
    await expect(page.getByRole('link', { name: 'Get more time with Premium' }).isVisible()).resolves.toBe(true);
    await expect(page.locator('#timeline-card').isHidden()).resolves.toBe(true);
    await screenshots(page, 'insufficient-credits');
    expect((await probe(page)).readies).toBe(0);
    expect(await ctx.connection.collection('beta_sessions').countDocuments({ user_id: v.user.id })).toBe(0);
    await page.close();
  });

  it('shows a Premium viewer outside the programme the quota left and no credit widget', async () => {
    const v = await viewer(ctx.app, { tier: 'premium' });
    const page = await openPage(v);
    await page.getByRole('button', { name: 'Start dubbing' }).click();
    await page.locator('.connection[data-state="live"]').waitFor();
    await expect(page.locator('#quota-text').textContent()).resolves.toMatch(
      /^60 min left this hour · \d+ min today · \d+ min this month$/,
    );
    await page.locator('.timeline li.translated').first().waitFor({ timeout: 30_000 });
    await expect(page.locator('#credits').isHidden()).resolves.toBe(true);
    await screenshots(page, 'premium-quota');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.connection[data-state="ended"]').waitFor();
    await expect(page.locator('#credits').isHidden()).resolves.toBe(true);
    expect(problems(page)).toEqual([]);
    await page.close();
  });

  it('tells a free-tier viewer, signed in with a pasted token, that live dubbing needs an upgrade', async () => {
    const v = await viewer(ctx.app, { tier: 'free' });
    const page = await browser.browser.newPage();
    await page.goto(`${instance.baseUrl}/`);
    await page.getByLabel('Access token').fill(v.token);
    await page.keyboard.press('Enter');
    await page.locator('#channel-select').selectOption(v.channel.id);
    await page.getByRole('button', { name: 'Start dubbing' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#notice').waitFor();
    await expect(page.locator('#notice-title').textContent()).resolves.toBe('Live dubbing is a Premium feature');
    await expect(page.locator('#notice-message').textContent()).resolves.toBe(
      'Live dubbing needs an active Premium or Family subscription',
    );
    await expect(page.getByRole('link', { name: 'Upgrade your plan' }).isVisible()).resolves.toBe(true);
    await expect(page.locator('#credits').isHidden()).resolves.toBe(true);
    await screenshots(page, 'free-tier');
    await page.close();
  });

  it('is usable with the keyboard alone, with labelled controls and live regions for status and warnings', async () => {
    const v = await viewer(ctx.app, { tier: 'premium' });
    const page = await openPage(v);
    await expect(page.getByLabel('Channel', { exact: true }).inputValue()).resolves.toBe(v.channel.id);
    await expect(page.getByLabel('Dub into', { exact: true }).inputValue()).resolves.toBe('en');
    await expect(page.getByRole('radio', { name: 'Microphone' }).isChecked()).resolves.toBe(true);
    await expect(page.locator('#connection-text').getAttribute('aria-live')).resolves.toBe('polite');
    await expect(page.locator('#credit-warnings').getAttribute('aria-live')).resolves.toBe('assertive');
    await expect(page.locator('#notice').getAttribute('role')).resolves.toBe('alert');
    // Tab order: the skip link, then the form's controls in reading order, ending on Start.
    const focused = async () =>
      page.evaluate(() => {
        const active = (globalThis as any).document.activeElement;
        return active.id || active.getAttribute('value') || active.textContent.trim();
      });
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    expect(order).toEqual(['Skip to the player', 'channel-select', 'language-select', 'microphone', 'start-button']);
    await page.keyboard.press('Enter');
    await page.locator('.connection[data-state="live"]').waitFor();
    // Stop takes the focus once live, so Enter stops again.
    await expect(focused()).resolves.toBe('stop-button');
    await page.keyboard.press('Enter');
    await page.locator('.connection[data-state="ended"]').waitFor();
    await expect(focused()).resolves.toBe('start-button');
    expect(problems(page)).toEqual([]);
    await page.close();
  });

  it('resumes by itself when the service restarts on the same port, and the session is charged once', () =>
    withInstanceLogs(async () => {
      // An instance of its own: the sockets the other scenarios' refusals left closing (ws waits up to 30 s for a
      // client's close frame) would hold up a graceful stop of the shared one.
      const service = await startInstance({ MONGODB_URI: uri, ...SERVICE_ENV }, { label: 'web-restart' });
      const v = await viewer(ctx.app, { credits: 1000 });
      const page = await openPage(v, service);
      const openedAt = Date.now();
      await page.getByRole('button', { name: 'Start dubbing' }).click();
      await page.locator('.connection[data-state="live"]').waitFor();
      await page.locator('.timeline li.translated').first().waitFor({ timeout: 30_000 });
      const port = new URL(service.baseUrl).port;
      // A graceful stop: Nest re-raises SIGTERM once its shutdown hooks ran (a SIGKILL would mean it had to be forced).
      expect([
        { code: 0, signal: null },
        { code: null, signal: 'SIGTERM' },
      ]).toContainEqual(await service.stop());
      await page.locator('.connection[data-state="resuming"]').waitFor({ timeout: 5000 });
      await screenshots(page, 'resuming');
      await startInstance({ MONGODB_URI: uri, ...SERVICE_ENV, PORT: port }, { label: 'web-restarted' });
      const resumed = await until(page, (p) => p.resumed === 1 && p.state === 'live', 25_000);
      expect(resumed.readies).toBe(2);
      const translationsBefore = resumed.translations;
      await until(page, (p) => p.translations > translationsBefore, 30_000);
      await sleep(1000);
      await screenshots(page, 'resumed');
      await page.getByRole('button', { name: 'Stop' }).click();
      await page.locator('.connection[data-state="ended"]').waitFor();
      const stoppedAt = Date.now();
      const p = await probe(page);
      expect(p.summary).toMatchObject({ reason: 'user_stopped' });
      const session = await ctx.betaSession(p.betaSessionId!);
      expect(session).toMatchObject({ status: 'ended', end_reason: 'user_stopped' });
      // One session, one set of debits: what the ledger took is what the session and the page were told, and no more
      // than its connected time (the restart's gap is not charged).
      expect(await ctx.connection.collection('beta_sessions').countDocuments({ user_id: v.user.id })).toBe(1);
      expect(await ctx.debited(p.betaSessionId!)).toBe(session.charged_credits);
      expect(p.summary.charged_credits).toBe(session.charged_credits);
      // Charged for the connected seconds (rounded up, docs/credits.md), once: less than the time from open to stop.
      expect(session.charged_credits).toBeGreaterThan(0);
      expect(session.charged_credits).toBeLessThanOrEqual(10 * (Math.ceil(p.summary.duration_ms / 1000) + 1));
      expect(session.charged_credits).toBeLessThan(10 * Math.floor((stoppedAt - openedAt) / 1000));
      expect(p.summary.duration_ms).toBeLessThan(stoppedAt - openedAt);
      await page.close();
    }));

  it('stops reconnecting when the viewer presses Stop while the service is away', () =>
    withInstanceLogs(async () => {
      const service = await startInstance({ MONGODB_URI: uri, ...SERVICE_ENV }, { label: 'web-away' });
      const v = await viewer(ctx.app, { credits: 1000 });
      const page = await openPage(v, service);
      await page.getByRole('button', { name: 'Start dubbing' }).click();
      await page.locator('.connection[data-state="live"]').waitFor();
      await service.stop();
      await page.locator('.connection[data-state="resuming"]').waitFor({ timeout: 5000 });
      await page.getByRole('button', { name: 'Stop' }).click();
      await page.locator('.connection[data-state="ended"]').waitFor();
      await expect(page.getByRole('button', { name: 'Start dubbing' }).isVisible()).resolves.toBe(true);
      await sleep(3000);
      const p = await probe(page);
      expect({ state: p.state, readies: p.readies }).toEqual({ state: 'ended', readies: 1 });
      await page.close();
    }));
});
