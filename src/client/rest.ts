import { resolveToken, type TokenSource } from './environment.js';

/** A channel a live session can be opened on (`GET /api/v1/channels`, README "REST"). */
export interface Channel {
  /** The `channel_id` of an opening. */
  id: string;
  name: string;
  /** The language of the channel's audio. */
  source_language: string;
  /** The `target_lang` values an opening on this channel accepts. */
  dubbing_languages: string[];
}

export interface ChannelsPage {
  channels: Channel[];
  /** Pass to `channels()` for the next page; null on the last page. */
  next_cursor: string | null;
}

/** The caller's Beta 500 credits (`GET /api/v1/beta/credits`, README "REST"; docs/credits.md). */
export interface BetaCredits {
  is_beta_user: boolean;
  /** Credits ever granted. */
  total_credits: number;
  /** Granted and not expired: what a credit bar is drawn against (as `ready.beta.granted_credits`). */
  granted_credits: number;
  /** Granted minus charged. */
  remaining_credits: number;
  /** Held by running sessions. */
  held_credits: number;
  /** Remaining minus held: what a new session may use. */
  available_credits: number;
  active_sessions: number;
  /** The active grants, in the order they are spent; `expires_at` absent: never expires. */
  grants: { id: string; remaining: number; expires_at?: string; priority: number }[];
  /** The earliest expiry of an active grant (ISO 8601); null: none expires. */
  next_expiry: string | null;
}

/** The body of an API error (README, "REST"): `code` for the product's own errors. */
export interface RestErrorBody {
  statusCode?: number;
  error?: string;
  message?: string | string[];
  code?: string;
  [field: string]: unknown;
}

/** An answer other than 2xx: its status and body (JSON when it was, else the text). */
export class RestError extends Error {
  override readonly name = 'RestError';

  constructor(
    readonly status: number,
    readonly body: RestErrorBody | string | undefined,
    readonly url: string,
  ) {
    const detail = typeof body === 'object' ? (Array.isArray(body.message) ? body.message.join('; ') : body.message) : body;
    super(`${status} from ${url}${detail ? `: ${detail}` : ''}`);
  }

  /** The stable error code (`unauthorized`, `service_unavailable`, …), when the body has one. */
  get code(): string | undefined {
    return typeof this.body === 'object' ? this.body.code : undefined;
  }
}

/** The part of `fetch`'s answer the client reads. */
export interface FetchResponse {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string> }) => Promise<FetchResponse>;

export interface RestClientOptions {
  /** The service's base URL, `https://host` (the API lives under `/api/v1`). */
  baseUrl: string;
  /** An access token, or a function returning one (called for every request). */
  token: TokenSource;
  /** Default: the global `fetch`. */
  fetch?: FetchLike;
}

export interface RestClient {
  /** A page of the channels a live session can be opened on, after `cursor` (the previous page's `next_cursor`). */
  channels(cursor?: string, limit?: number): Promise<ChannelsPage>;
  /** The caller's Beta 500 credits. */
  credits(): Promise<BetaCredits>;
}

/** A typed client of the REST endpoints a live page needs. A non-2xx answer rejects with a `RestError`. */
export function createRestClient(options: RestClientOptions): RestClient {
  const fetch: FetchLike = options.fetch ?? ((url, init) => (globalThis as unknown as { fetch: FetchLike }).fetch(url, init));
  const api = options.baseUrl.replace(/\/+$/, '') + '/api/v1';

  async function get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const search = Object.entries(query)
      .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
      .join('&');
    const url = api + path + (search === '' ? '' : `?${search}`);
    const response = await fetch(url, {
      method: 'GET',
      headers: { accept: 'application/json', authorization: `Bearer ${await resolveToken(options.token)}` },
    });
    const text = await response.text();
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!response.ok) {
      throw new RestError(response.status, body as RestErrorBody | string | undefined, url);
    }
    return body as T;
  }

  return {
    channels: (cursor, limit) => get<ChannelsPage>('/channels', { cursor, limit }),
    credits: () => get<BetaCredits>('/beta/credits'),
  };
}
