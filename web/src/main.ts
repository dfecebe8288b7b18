import { createRestClient, LiveDubbingClient, LiveDubbingError, type Channel, type EndedEvent } from './live-client.js';
import { AudioEngine, type CaptureSource } from './audio.js';
import {
  creditView,
  errorView,
  expiryLabel,
  formatCredits,
  meterPercent,
  quotaText,
  tokenFromFragment,
  WarningLog,
  warningText,
  type BetaTerms,
  type QuotaMinutes,
  type ServerError,
} from './credits.js';

/*
 * The web client: pick a channel and a language, stream the microphone (or a tab's audio) to the live dubbing
 * gateway, and follow the transcript, the translation, the dubbed audio and the credits (docs/protocol.md).
 */

const TOKEN_KEY = 'live-dubbing.token';

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) {
    throw new Error(`#${id} is missing from the page`);
  }
  return found as T;
}

const ui = {
  connection: document.querySelector<HTMLElement>('.connection') as HTMLElement,
  connectionText: element('connection-text'),
  signIn: element('sign-in'),
  tokenForm: element<HTMLFormElement>('token-form'),
  tokenInput: element<HTMLInputElement>('token-input'),
  setup: element('setup'),
  setupForm: element<HTMLFormElement>('setup-form'),
  channel: element<HTMLSelectElement>('channel-select'),
  language: element<HTMLSelectElement>('language-select'),
  tabChoice: element('tab-choice'),
  start: element<HTMLButtonElement>('start-button'),
  stop: element<HTMLButtonElement>('stop-button'),
  levelRow: element('level-row'),
  level: element('level-bar'),
  notice: element('notice'),
  noticeTitle: element('notice-title'),
  noticeMessage: element('notice-message'),
  noticeAction: element('notice-action'),
  timelineCard: element('timeline-card'),
  timeline: element<HTMLOListElement>('timeline'),
  playbackText: element('playback-text'),
  credits: element('credits'),
  creditsRemaining: element('credits-remaining'),
  creditsBar: element('credits-bar'),
  creditsFill: element('credits-fill'),
  creditsDetail: element('credits-detail'),
  creditsTime: element('credits-time'),
  creditsExpiry: element('credits-expiry'),
  creditWarnings: element<HTMLUListElement>('credit-warnings'),
  creditsUpgrade: element('credits-upgrade'),
  quota: element('quota'),
  quotaText: element('quota-text'),
  upgrade: element('upgrade'),
};

const STATE_TEXT: Record<string, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  authenticating: 'Signing in…',
  live: 'Live',
  resuming: 'Reconnecting…',
  ended: 'Stopped',
};

/** What tests read: counters of the audio path and the session (never the token). */
interface PageProbe {
  state: string;
  audio?: AudioEngine['stats'];
  transcripts: number;
  translations: number;
  readies: number;
  resumed: number;
  sessionId?: string;
  betaSessionId?: string;
  /** The usage summary of the last session that ended normally. */
  summary?: unknown;
}
const probe: PageProbe = { state: 'idle', transcripts: 0, translations: 0, readies: 0, resumed: 0 };
(window as unknown as { liveDubbing: PageProbe }).liveDubbing = probe;

let token: string | undefined;
let channels: Channel[] = [];
let client: LiveDubbingClient | undefined;
let engine: AudioEngine | undefined;
let outputTimer: number | undefined;
let terms: BetaTerms | undefined;
let warnings = new WarningLog();
let sampleRate = 16_000;
/** Segment ids start again at 1 on each connection (docs/protocol.md): items are keyed by connection too. */
let connectionIndex = 0;

function setConnection(state: string): void {
  probe.state = state;
  ui.connection.dataset.state = state;
  ui.connectionText.textContent = STATE_TEXT[state] ?? state;
}

function showNotice(title: string, message: string, upgrade: boolean): void {
  ui.noticeTitle.textContent = title;
  ui.noticeMessage.textContent = message;
  ui.noticeAction.hidden = !upgrade;
  ui.notice.hidden = false;
  ui.upgrade.hidden = !upgrade;
}

function clearNotice(): void {
  ui.notice.hidden = true;
  ui.upgrade.hidden = true;
}

/** `exhausted`: the session ended on `credits_exhausted`; `insufficient`: the balance cannot pay an opening's hold. */
type CreditState = 'normal' | 'exhausted' | 'insufficient';

function renderCredits(state: CreditState = 'normal'): void {
  if (terms === undefined) {
    ui.credits.hidden = true;
    return;
  }
  const view = creditView(terms);
  ui.credits.hidden = false;
  ui.credits.dataset.level = state === 'exhausted' ? 'empty' : view.level;
  ui.creditsRemaining.textContent = formatCredits(view.remaining);
  ui.creditsFill.style.width = `${(view.fraction * 100).toFixed(1)}%`;
  ui.creditsBar.setAttribute('aria-valuenow', String(Math.round(view.fraction * 100)));
  ui.creditsBar.setAttribute('aria-valuetext', view.remainingLabel);
  // The rate comes with `ready.beta`; before a session only the balance is known.
  const perSecond = terms.credits_per_second;
  ui.creditsDetail.textContent =
    perSecond > 0
      ? `${view.remainingLabel} · ${formatCredits(perSecond)} ${perSecond === 1 ? 'credit' : 'credits'} per second`
      : view.remainingLabel;
  ui.creditsTime.textContent =
    state === 'exhausted'
      ? 'No live dubbing time left.'
      : state === 'insufficient'
        ? 'Not enough to start a live dubbing session.'
        : perSecond > 0
          ? view.timeLabel[0].toUpperCase() + view.timeLabel.slice(1)
          : '';
  ui.creditsUpgrade.hidden = state === 'normal';
}

function addWarning(text: string, exhausted = false): void {
  const item = document.createElement('li');
  item.textContent = text;
  if (exhausted) {
    item.className = 'exhausted';
  }
  ui.creditWarnings.append(item);
}

function renderQuota(quota: QuotaMinutes | undefined): void {
  ui.quota.hidden = quota === undefined;
  if (quota !== undefined) {
    ui.quotaText.textContent = quotaText(quota);
  }
}

function timelineItem(segmentId: number): HTMLLIElement {
  const key = `${connectionIndex}-${segmentId}`;
  let item = ui.timeline.querySelector<HTMLLIElement>(`li[data-key="${key}"]`);
  if (item === null) {
    item = document.createElement('li');
    item.dataset.key = key;
    const meta = document.createElement('p');
    meta.className = 'meta';
    const source = document.createElement('p');
    source.className = 'source';
    source.lang = '';
    const target = document.createElement('p');
    target.className = 'target';
    item.append(meta, source, target);
    ui.timeline.append(item);
  }
  return item;
}

function scrollTimeline(): void {
  ui.timeline.scrollTop = ui.timeline.scrollHeight;
}

function fillLanguages(): void {
  const channel = channels.find((c) => c.id === ui.channel.value);
  ui.language.replaceChildren(
    ...(channel?.dubbing_languages ?? []).map((lang) => {
      const option = document.createElement('option');
      option.value = lang;
      option.textContent = languageName(lang);
      return option;
    }),
  );
}

function languageName(code: string): string {
  try {
    const name = new Intl.DisplayNames(['en'], { type: 'language' }).of(code);
    return name === undefined || name === code ? code : `${name} (${code})`;
  } catch {
    return code;
  }
}

async function loadChannels(): Promise<void> {
  const rest = createRestClient({ baseUrl: location.origin, token: token as string, fetch: (url, init) => window.fetch(url, init) });
  try {
    channels = [];
    let cursor: string | undefined;
    // Every page (docs/protocol.md, "Opening a session": what a picker may offer), up to a sane bound.
    for (let page = 0; page < 20; page++) {
      const result = await rest.channels(cursor, 100);
      channels.push(...result.channels);
      if (result.next_cursor === null) {
        break;
      }
      cursor = result.next_cursor;
    }
  } catch (error) {
    ui.signIn.hidden = false;
    showNotice('Could not load the channels', errorMessage(error), false);
    return;
  }
  ui.channel.replaceChildren(
    ...channels.map((channel) => {
      const option = document.createElement('option');
      option.value = channel.id;
      option.textContent = `${channel.name} · ${languageName(channel.source_language)}`;
      return option;
    }),
  );
  fillLanguages();
  ui.setup.hidden = false;
  void loadCredits(rest);
  ui.start.disabled = channels.length === 0;
  if (channels.length === 0) {
    showNotice('No live channels', 'No channel is live right now. Try again later.', false);
  }
}

/** A beta viewer sees the balance before starting; the session's rate comes with `ready.beta`. */
async function loadCredits(rest: ReturnType<typeof createRestClient>): Promise<void> {
  try {
    const credits = await rest.credits();
    if (credits.is_beta_user && terms === undefined) {
      terms = { remaining_credits: credits.remaining_credits, granted_credits: credits.granted_credits, credits_per_second: 0 };
      renderCredits();
    }
    const expiry = credits.is_beta_user ? expiryLabel(credits) : undefined;
    ui.creditsExpiry.textContent = expiry ?? '';
    ui.creditsExpiry.hidden = expiry === undefined;
  } catch {
    // Outside the programme (or with beta features off): no widget.
  }
}

function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

function setLive(live: boolean): void {
  ui.start.hidden = live;
  ui.stop.hidden = !live;
  ui.levelRow.hidden = !live;
  ui.channel.disabled = live;
  ui.language.disabled = live;
  ui.setupForm.querySelectorAll<HTMLInputElement>('input[name="source"]').forEach((input) => (input.disabled = live));
}

async function start(): Promise<void> {
  if (token === undefined || client !== undefined) {
    return;
  }
  clearNotice();
  ui.start.disabled = true;
  warnings = new WarningLog();
  ui.creditWarnings.replaceChildren();
  renderCredits();
  const source = (new FormData(ui.setupForm).get('source') as CaptureSource | null) ?? 'microphone';
  try {
    engine = await AudioEngine.create();
  } catch (error) {
    ui.start.disabled = false;
    showNotice('Audio is unavailable', errorMessage(error), false);
    return;
  }
  probe.audio = engine.stats;
  const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/live-dubbing`;
  // A browser cannot see the server's WebSocket pings: the client pings after 10 s of silence to find a dead
  // connection and resume on a new one (docs/protocol.md, "Client library").
  const live = new LiveDubbingClient({ url: wsUrl, token, pingIntervalMs: 10_000 });
  client = live;
  wireClient(live);
  ui.timelineCard.hidden = false;
  try {
    await engine.startCapture(
      source,
      (frame) => {
        if (live.state === 'live') {
          live.sendAudio(frame);
          if (engine !== undefined) {
            engine.stats.framesSent++;
          }
        }
      },
      (level) => {
        const percent = meterPercent(level);
        ui.level.style.width = `${percent}%`;
        ui.level.parentElement?.setAttribute('aria-valuenow', String(percent));
      },
    );
  } catch (error) {
    await teardown();
    showNotice(source === 'tab' ? 'Tab audio is unavailable' : 'The microphone is unavailable', errorMessage(error), false);
    return;
  }
  try {
    await live.open({ channel_id: ui.channel.value, target_lang: ui.language.value });
  } catch (error) {
    // The `ended` event shows why; the client is done.
    if (!(error instanceof LiveDubbingError)) {
      showNotice('Live dubbing could not start', errorMessage(error), false);
    }
    await teardown();
    return;
  }
  setLive(true);
  ui.stop.focus();
  outputTimer = window.setInterval(() => engine?.sampleOutput(), 50);
}

function wireClient(live: LiveDubbingClient): void {
  live.on('state', (state) => setConnection(state));
  live.on('retry', (retry) => {
    if (retry.attempt > 0) {
      ui.connectionText.textContent = `Reconnecting, try ${retry.attempt + 1}`;
    }
  });
  live.on('ready', (ready) => {
    probe.readies++;
    probe.sessionId = ready.session_id;
    probe.betaSessionId = ready.beta?.session_id;
    connectionIndex++;
    sampleRate = ready.audio?.sample_rate_hz ?? 16_000;
    if (ready.resumed === true) {
      probe.resumed++;
      const note = document.createElement('li');
      note.className = 'resumed';
      note.textContent = 'Connection restored: the session continues.';
      ui.timeline.append(note);
    }
    terms = ready.beta ?? undefined;
    renderCredits();
    // Beta viewers see the credit widget; the quota shows for everyone who has one.
    renderQuota(ready.quota ?? undefined);
  });
  live.on('transcript', (transcript) => {
    probe.transcripts++;
    const item = timelineItem(transcript.segment_id);
    const seconds = (transcript.start_ms / 1000).toFixed(1);
    (item.querySelector('.meta') as HTMLElement).textContent = `${seconds} s${transcript.language ? ` · ${transcript.language}` : ''}`;
    (item.querySelector('.source') as HTMLElement).textContent = transcript.text;
    scrollTimeline();
  });
  live.on('translation', (translation) => {
    probe.translations++;
    const item = timelineItem(translation.segment_id);
    item.classList.add('translated');
    const target = item.querySelector('.target') as HTMLElement;
    target.textContent = translation.text;
    target.lang = translation.target_lang;
    scrollTimeline();
  });
  live.on('audio', (pcm) => {
    engine?.play(pcm, sampleRate);
    const played = engine?.stats.playback.scheduledSegments ?? 0;
    ui.playbackText.textContent = `Dubbed audio: ${played} ${played === 1 ? 'segment' : 'segments'} played.`;
  });
  live.on('credits', (credits) => {
    if (terms !== undefined) {
      terms = { ...terms, remaining_credits: credits.remaining_credits };
      renderCredits();
    }
  });
  live.on('credit_warning', (warning) => {
    if (terms !== undefined) {
      terms = { ...terms, remaining_credits: warning.remaining_credits };
      renderCredits();
    }
    if (warnings.accept(warning.threshold_percent)) {
      addWarning(warningText(warning, terms?.credits_per_second ?? 1));
    }
  });
  live.on('idle_warning', (idle) => {
    ui.connectionText.textContent = `No audio: the session stops in ${idle.seconds_left} s`;
  });
  live.on('ended', (ended) => {
    showEnd(ended);
    void teardown();
  });
}

/** How the session ended: the server's own message for an error, with an upgrade call to action where it helps. */
function showEnd(ended: EndedEvent): void {
  const summary = ended.sessionEnded;
  if (summary !== undefined) {
    probe.summary = summary;
    if (terms !== undefined && typeof summary.remaining_credits === 'number') {
      terms = { ...terms, remaining_credits: summary.remaining_credits };
      renderCredits();
    }
    if (summary.reason === 'idle_timeout') {
      showNotice('Stopped: no audio', 'The session stopped after a while without audio.', false);
    }
    return;
  }
  if (ended.error !== undefined) {
    const error = ended.error as ServerError;
    const view = errorView(error);
    showNotice(view.title, view.message, view.upgrade);
    if (view.exhausted && terms !== undefined) {
      terms = { ...terms, remaining_credits: typeof error.remaining_credits === 'number' ? error.remaining_credits : 0 };
      renderCredits(error.code === 'insufficient_credits' ? 'insufficient' : 'exhausted');
      addWarning(view.message, true);
    }
    return;
  }
  if (ended.reason === 'window_over' || ended.reason === 'closed') {
    showNotice(
      'Connection lost',
      'The connection to the service was lost and the session could not be resumed. Start again when you are ready.',
      false,
    );
  }
}

async function teardown(): Promise<void> {
  window.clearInterval(outputTimer);
  outputTimer = undefined;
  const closing = engine;
  engine = undefined;
  client = undefined;
  setLive(false);
  ui.start.disabled = channels.length === 0;
  ui.level.style.width = '0';
  // A session refused at its opening leaves nothing to read.
  ui.timelineCard.hidden = ui.timeline.childElementCount === 0;
  if (closing !== undefined) {
    // Keep the dubbed audio already scheduled playing; only the capture stops at once.
    closing.stopCapture();
    window.setTimeout(() => void closing.close(), 5000);
  }
}

async function stop(): Promise<void> {
  const live = client;
  if (live === undefined) {
    return;
  }
  ui.stop.disabled = true;
  try {
    showEnd({ reason: 'session_ended', action: 'ended', sessionEnded: await live.stop() });
  } catch {
    // Not live (resuming, say), or already ended: close, which ends the session charged up to now and stops any resume.
    live.close();
  } finally {
    ui.stop.disabled = false;
    await teardown();
    setConnection('ended');
    ui.start.focus();
  }
}

function useToken(value: string): void {
  token = value;
  sessionStorage.setItem(TOKEN_KEY, value);
  ui.signIn.hidden = true;
  void loadChannels();
}

function init(): void {
  // The token comes in the fragment, which the browser never sends; it is kept for this tab and dropped from the URL.
  const fromFragment = tokenFromFragment(location.hash);
  if (fromFragment !== undefined) {
    history.replaceState(null, '', location.pathname + location.search);
  }
  const stored = fromFragment ?? sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  ui.tabChoice.hidden = !AudioEngine.tabCaptureOffered();
  ui.channel.addEventListener('change', fillLanguages);
  ui.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = ui.tokenInput.value.trim();
    if (value !== '') {
      ui.tokenInput.value = '';
      clearNotice();
      useToken(value);
    }
  });
  ui.setupForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void start();
  });
  ui.stop.addEventListener('click', () => void stop());
  // Leaving the page ends the session at once (charged up to the close) rather than leaving it to wait for a resume.
  window.addEventListener('pagehide', () => client?.close());
  for (const link of document.querySelectorAll<HTMLAnchorElement>('a[href="#upgrade"]')) {
    link.addEventListener('click', (event) => {
      event.preventDefault();
      ui.upgrade.hidden = false;
      ui.upgrade.focus();
    });
  }
  if (stored === undefined) {
    ui.signIn.hidden = false;
    ui.tokenInput.focus();
  } else {
    useToken(stored);
  }
}

init();
