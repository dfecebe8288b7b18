import { Logger } from '@nestjs/common';
import type { Clock } from '../../../common/clock.js';
import { DUBBING_STAGE_LABEL, DubbingProviderError, type DubbingStage } from '../dubbing-provider.error.js';
import { Semaphore } from './semaphore.js';

export interface OpenAiHttpClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  maxConcurrency: number;
  clock: Clock;
  logger?: Pick<Logger, 'warn'>;
  /** Jitter source, in [0, 1). */
  random?: () => number;
  retryDelay?: RetryDelay;
  /** Told the outcome of every attempt, for metrics. */
  onAttempt?: (stage: DubbingStage, outcome: AttemptResult) => void;
}

/** An attempt succeeded, failed and will be retried, or failed for good. */
export type AttemptResult = 'ok' | 'retried' | 'failed';

export interface RetryDelay {
  /** Backoff before the first retry; it doubles for each later one. */
  baseMs: number;
  /** No wait is longer, `Retry-After` included. */
  maxMs: number;
}

const DEFAULT_RETRY_DELAY: RetryDelay = { baseMs: 250, maxMs: 4000 };

/** Thrown by a response reader when a 2xx answer cannot be used (malformed JSON, wrong audio): not worth retrying. */
export class UnusableResponseError extends Error {}

export type ResponseReader<T> = (response: Response) => Promise<T>;

export interface PostBody {
  body: string | FormData;
  /** Omitted for FormData, whose multipart boundary fetch sets itself. */
  contentType?: string;
}

type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; retryable: boolean; reason: string; retryAfterMs?: number };

const MAX_ERROR_DETAIL_CHARS = 200;

/**
 * One stage's HTTP access to an OpenAI-compatible server: bearer auth, a timeout per attempt (combined with the
 * caller's abort signal), at most `maxConcurrency` requests at once, and bounded retries with exponential backoff and
 * jitter on 408/429/5xx, timeouts and network errors. Messages it builds never quote the key, and the key is redacted
 * from any provider text they carry.
 */
export class OpenAiHttpClient {
  private readonly semaphore: Semaphore;
  private readonly logger: Pick<Logger, 'warn'>;
  private readonly random: () => number;
  private readonly retryDelay: RetryDelay;
  private readonly label: string;

  constructor(
    readonly stage: DubbingStage,
    private readonly options: OpenAiHttpClientOptions,
  ) {
    this.semaphore = new Semaphore(options.maxConcurrency);
    this.logger = options.logger ?? new Logger(OpenAiHttpClient.name);
    this.random = options.random ?? Math.random;
    this.retryDelay = options.retryDelay ?? DEFAULT_RETRY_DELAY;
    this.label = DUBBING_STAGE_LABEL[stage];
  }

  /** POSTs to `{baseUrl}{path}` and reads a 2xx answer with `read`; throws DubbingProviderError once retries are spent. */
  async post<T>(path: string, request: PostBody, read: ResponseReader<T>, signal?: AbortSignal): Promise<T> {
    const attempts = this.options.maxRetries + 1;
    for (let attempt = 1; ; attempt++) {
      const release = await this.semaphore.acquire(signal);
      let outcome: AttemptOutcome<T>;
      try {
        outcome = await this.attempt(path, request, read, signal);
      } finally {
        release();
      }
      const willRetry = !outcome.ok && outcome.retryable && attempt < attempts;
      this.options.onAttempt?.(this.stage, outcome.ok ? 'ok' : willRetry ? 'retried' : 'failed');
      if (outcome.ok) {
        return outcome.value;
      }
      if (!outcome.retryable) {
        throw new DubbingProviderError(this.stage, `${this.label} provider ${outcome.reason}`);
      }
      if (attempt === attempts) {
        throw new DubbingProviderError(this.stage, `${this.label} provider failed after ${attempts} attempt(s): ${outcome.reason}`);
      }
      const delayMs = this.delayBeforeRetry(attempt, outcome.retryAfterMs);
      this.logger.warn(`${this.label} provider: ${outcome.reason}; retry ${attempt} of ${this.options.maxRetries} in ${delayMs} ms`);
      await this.sleep(delayMs, signal);
    }
  }

  private async attempt<T>(path: string, request: PostBody, read: ResponseReader<T>, signal?: AbortSignal): Promise<AttemptOutcome<T>> {
    const timeout = new AbortController();
    const cancelTimeout = this.options.clock.setTimer(this.options.timeoutMs, () => timeout.abort());
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json' };
    if (request.contentType !== undefined) {
      headers['content-type'] = request.contentType;
    }
    try {
      const response = await fetch(`${this.options.baseUrl}${path}`, {
        method: 'POST',
        headers,
        body: request.body,
        signal: signal === undefined ? timeout.signal : AbortSignal.any([signal, timeout.signal]),
      });
      if (response.ok) {
        return { ok: true, value: await read(response) };
      }
      return await this.refusal(response);
    } catch (error) {
      if (signal?.aborted) {
        throw signal.reason;
      }
      if (timeout.signal.aborted) {
        return { ok: false, retryable: true, reason: `timed out after ${this.options.timeoutMs} ms` };
      }
      if (error instanceof UnusableResponseError) {
        return { ok: false, retryable: false, reason: this.redact(error.message) };
      }
      return { ok: false, retryable: true, reason: `network error${errorCodeOf(error)}` };
    } finally {
      cancelTimeout();
    }
  }

  private async refusal(response: Response): Promise<AttemptOutcome<never>> {
    const status = response.status;
    if (status === 408 || status === 429 || status >= 500) {
      await response.body?.cancel();
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.options.clock.now());
      return { ok: false, retryable: true, reason: `HTTP ${status}`, retryAfterMs };
    }
    if (status === 401 || status === 403) {
      await response.body?.cancel();
      return { ok: false, retryable: false, reason: `refused the API key (HTTP ${status}); check OPENAI_API_KEY` };
    }
    const detail = await errorDetail(response);
    return {
      ok: false,
      retryable: false,
      reason: `rejected the request (HTTP ${status}${detail === '' ? '' : `: ${this.redact(detail)}`})`,
    };
  }

  private delayBeforeRetry(retry: number, retryAfterMs: number | undefined): number {
    const { baseMs, maxMs } = this.retryDelay;
    const ceiling = Math.min(maxMs, baseMs * 2 ** (retry - 1));
    // "Equal jitter": half the backoff is fixed, half random, so retries spread out but never come back at once.
    const backoff = Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
    return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(maxMs, retryAfterMs));
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        cancel();
        reject(signal!.reason);
      };
      const cancel = this.options.clock.setTimer(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private redact(text: string): string {
    return text.split(this.options.apiKey).join('[redacted]');
  }
}

/** `Retry-After` as delay-seconds or an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') {
    return undefined;
  }
  if (/^\s*\d+\s*$/.test(header)) {
    return Number(header) * 1000;
  }
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The body of a successful response, refusing more than `maxBytes` (a misbehaving server cannot exhaust memory). */
export async function readBody(response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new UnusableResponseError(`returned ${declared} bytes, more than the ${maxBytes} accepted`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (response.body !== null) {
    for await (const chunk of response.body) {
      total += chunk.length;
      if (total > maxBytes) {
        throw new UnusableResponseError(`returned more than the ${maxBytes} bytes accepted`);
      }
      chunks.push(Buffer.from(chunk));
    }
  }
  return Buffer.concat(chunks);
}

export async function readJson(response: Response, maxBytes: number): Promise<unknown> {
  const body = await readBody(response, maxBytes);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new UnusableResponseError('returned malformed JSON');
  }
}

/** The provider's own error message (OpenAI: `{"error":{"message":…}}`), shortened; empty when there is none. */
async function errorDetail(response: Response): Promise<string> {
  try {
    const body = (await readJson(response, 64 * 1024)) as { error?: { message?: unknown } | string };
    const message = typeof body.error === 'string' ? body.error : body.error?.message;
    if (typeof message !== 'string') {
      return '';
    }
    const oneLine = message.replace(/\s+/g, ' ').trim();
    return oneLine.length > MAX_ERROR_DETAIL_CHARS ? `${oneLine.slice(0, MAX_ERROR_DETAIL_CHARS)}…` : oneLine;
  } catch {
    return '';
  }
}

/** The system error code behind a fetch failure (`ECONNREFUSED`, `UND_ERR_SOCKET`…), never its free text. */
function errorCodeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = cause?.code ?? (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? ` (${code})` : '';
}
