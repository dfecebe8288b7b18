import { startTestApp, type TestApp } from '../harness/app.js';
import { http } from '../harness/http.js';

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
