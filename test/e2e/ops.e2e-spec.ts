import { CreditCheckpointScheduler } from '../../src/beta/checkpoint/credit-checkpoint.scheduler.js';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import { BetaSessionsService } from '../../src/beta/sessions/beta-sessions.service.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { betaViewer } from '../harness/beta-books.js';
import { http } from '../harness/http.js';
import { ManualClock } from '../harness/manual-clock.js';

describe('operations endpoints', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('reports the database up on /health', async () => {
    const response = await http(t.baseUrl, 'GET', '/health');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });

  it('serves Prometheus text on /metrics', async () => {
    const response = await http(t.baseUrl, 'GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(response.text).toMatch(/^# HELP process_cpu_user_seconds_total/m);
    expect(response.text).toMatch(/^live_dubbing_sessions 0$/m);
  });

  it('serves the OpenAPI document at /docs', async () => {
    const response = await http(t.baseUrl, 'GET', '/docs-json');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.paths)).toEqual(expect.arrayContaining(['/api/v1/users/me', '/api/v1/admin/users', '/health']));
  });

  it('answers an unknown route with a JSON 404 and no stack trace', async () => {
    const response = await http(t.baseUrl, 'GET', '/api/v1/nothing-here');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /api/v1/nothing-here' });
  });

  it('answers malformed JSON with 400 and keeps serving', async () => {
    const response = await http(t.baseUrl, 'POST', '/api/v1/admin/users', { rawBody: '{"email":', headers: { authorization: 'Bearer x' } });
    expect(response.status).toBe(400);
    expect(response.text).not.toMatch(/at .*\.js/);
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
  });

  it('echoes a caller request id and makes one when none is given', async () => {
    const given = await http(t.baseUrl, 'GET', '/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const made = await http(t.baseUrl, 'GET', '/health');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('checkpoint metrics', () => {
  const clock = new ManualClock();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });

  afterAll(async () => {
    await t.close();
  });

  it('counts on /metrics the sessions its credit checkpoints charge, one per session per tick', async () => {
    const viewers = [betaViewer(), betaViewer()];
    const started = [];
    for (const viewer of viewers) {
      await t.app.get(BetaEnrollmentService).enroll({ email: viewer.email, via: 'admin' });
      const start = await t.app.get(BetaSessionsService).start(viewer);
      if (!start.ok) throw new Error('start refused');
      started.push(start.sessionId);
    }
    await clock.advance(5_000);
    await t.app.get(CreditCheckpointScheduler).runOnce();
    await clock.advance(5_000);
    await t.app.get(CreditCheckpointScheduler).runOnce();
    const metrics = await http(t.baseUrl, 'GET', '/metrics');
    expect(metrics.text).toMatch(/^beta_checkpoint_sessions_charged_total 4$/m);
    for (const sessionId of started) {
      await t.app.get(BetaSessionsService).end(sessionId, 'user_stopped');
    }
  });
});
