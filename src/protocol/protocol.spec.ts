import { readdirSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { CLOSE_CODES, CloseCode, ClientMessageSchema, ServerMessageSchema, SERVER_MESSAGE_SCHEMAS } from './index.js';

const ajv = new Ajv({ allErrors: true, strict: true });
const server = ajv.compile(ServerMessageSchema);
const client = ajv.compile(ClientMessageSchema);

describe('the live protocol definition', () => {
  it('imports nothing but TypeBox and itself, so a browser can bundle it', () => {
    const dir = new URL('.', import.meta.url);
    const imports = readdirSync(dir)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
      .flatMap((file) => [...readFileSync(new URL(file, dir), 'utf8').matchAll(/from '([^']+)'/g)].map((match) => match[1]));
    expect(imports.filter((name) => name !== '@sinclair/typebox' && !name.startsWith('./'))).toEqual([]);
  });

  it('gives every close code a meaning and a client action', () => {
    expect(Object.keys(CLOSE_CODES).map(Number).sort()).toEqual(Object.values(CloseCode).sort());
    expect(CLOSE_CODES[CloseCode.SessionMoved].action).toBe('stop');
    expect(CLOSE_CODES[CloseCode.ResumeFailed].action).toBe('open_new');
    expect(CLOSE_CODES[CloseCode.TryAgainLater].action).toBe('retry');
    for (const code of [CloseCode.Abnormal, CloseCode.ServiceRestart, CloseCode.SuspendedUnavailable]) {
      expect(CLOSE_CODES[code].action).toBe('resume');
    }
  });

  // The examples of docs/protocol.md.
  it.each([
    {
      type: 'ready',
      session_id: '6f1c',
      resume_token: 'q3V0',
      beta: { session_id: '0b2e', remaining_credits: 500, estimated_cost: 60, granted_credits: 500, credits_per_second: 1 },
      audio: { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 },
      quota: { hour: 60, day: 240, month: 3000 },
    },
    {
      type: 'ready',
      resumed: true,
      session_id: 's',
      resume_token: 't',
      beta: null,
      audio: { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 },
      quota: { hour: 0, day: 0, month: 0 },
    },
    {
      type: 'transcript',
      segment_id: 3,
      text: '…',
      language: 'es',
      is_final: true,
      loopback: false,
      start_ms: 5120,
      end_ms: 7040,
      latency_ms: 840,
    },
    {
      type: 'transcript',
      segment_id: 1,
      text: '…',
      language: null,
      is_final: true,
      loopback: true,
      start_ms: 0,
      end_ms: 300,
      latency_ms: 0,
    },
    { type: 'translation', segment_id: 3, text: '…', target_lang: 'en', loopback: false, latency_ms: 1310 },
    { type: 'credits', remaining_credits: 470, session_charged: 30 },
    { type: 'credit_warning', remaining_credits: 100, threshold_percent: 20 },
    { type: 'idle_warning', seconds_left: 10 },
    { type: 'session_ended', reason: 'user_stopped' },
    {
      type: 'session_ended',
      reason: 'user_stopped',
      duration_ms: 12300,
      charged_credits: 13,
      remaining_credits: 487,
      quota_used_seconds: 13,
      session_charged: 13,
    },
    {
      type: 'session_ended',
      reason: 'idle_timeout',
      duration_ms: 1000,
      charged_credits: 0,
      remaining_credits: null,
      quota_used_seconds: 1,
    },
    { type: 'reconnect', resume_token: 'q3V0', resume_within_ms: 20000 },
    { type: 'pong' },
    {
      type: 'error',
      code: 'credits_exhausted',
      message: 'Beta credits exhausted',
      upgrade_required: true,
      session_ended: true,
      duration_ms: 100000,
      charged_credits: 100,
      remaining_credits: 0,
      quota_used_seconds: 100,
    },
    {
      type: 'error',
      code: 'insufficient_credits',
      message: 'Insufficient beta credits for live dubbing',
      upgrade_required: true,
      remaining_credits: 59,
    },
    {
      type: 'error',
      code: 'service_unavailable',
      message: 'The service cannot reach its database; try again shortly',
      resume_token: 't',
      resume_within_ms: 20000,
    },
    { type: 'error', code: 'too_many_sessions', message: 'At most 2 live sessions at once', max_sessions: 2 },
  ])('accepts the server message $type', (message) => {
    expect(server(message) ? [] : server.errors).toEqual([]);
  });

  it.each([
    { type: 'pong', extra: 1 },
    { type: 'ready', session_id: 's', resume_token: 't', beta: null, audio: { encoding: 'LINEAR16', sample_rate_hz: 16000, channels: 1 } },
    { type: 'error', code: 'not_a_code', message: 'x' },
    { type: 'session_ended', reason: 'whatever' },
    { type: 'session_ended', reason: 'user_stopped', remaining_credits: 487, session_charged: 13 },
    { type: 'error', code: 'channel_unavailable', message: 'x' },
    { type: 'error', code: 'rate_limited', message: 'x', channel_id: 'news' },
    { type: 'error', code: 'credits_exhausted', message: 'x', upgrade_required: true, session_ended: true, duration_ms: 1 },
    { type: 'error', code: 'service_unavailable', message: 'x', resume_token: 't' },
    { type: 'error', code: 'auth_timeout', message: 'x', session_ended: true },
    { type: 'unknown' },
  ])('refuses a server message that is not in the protocol: %j', (message) => {
    expect(server(message)).toBe(false);
  });

  it.each([
    [{ type: 'auth', token: 'eyJ', channel_id: 'news-il', target_lang: 'en', source_lang: 'he' }, true],
    [{ type: 'auth', token: 'eyJ', resume_token: 'q3V0' }, true],
    [{ type: 'auth', token: 'eyJ', channel_id: 'news-il' }, false],
    [{ type: 'auth', token: 'eyJ', channel_id: 'news il', target_lang: 'en' }, false],
    [{ type: 'stop' }, true],
    [{ type: 'stop', resume_token: 'x' }, false],
    [{ type: 'flush' }, true],
    [{ type: 'ping' }, true],
  ])('checks the client message %j', (message, valid) => {
    expect(client(message)).toBe(valid);
  });

  it('names every server message type once', () => {
    expect(Object.entries(SERVER_MESSAGE_SCHEMAS).every(([type, schema]) => schema.properties.type.const === type)).toBe(true);
  });
});
