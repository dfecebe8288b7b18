import { startTestApp, type TestApp } from '../harness/app.js';
import { http } from '../harness/http.js';

const METRICS_TOKEN = 'metrics-scrape-token-0123456789abcdef';

function directives(policy: string | null): Map<string, string> {
  return new Map(
    (policy ?? '')
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter(([name]) => name !== '')
      .map(([name, ...sources]) => [name, sources.join(' ')]),
  );
}

describe('HTTP surface with the defaults (docs served, /metrics open)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it.each(['/health', '/metrics', '/api/v1/users/me', '/api/v1/nothing-here', '/nothing-here'])(
    'sends the security headers, and no X-Powered-By, on %s',
    async (path) => {
      const { headers } = await http(t.baseUrl, 'GET', path);
      expect(headers.get('x-powered-by')).toBeNull();
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
      expect(headers.get('referrer-policy')).toBe('no-referrer');
      expect(headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(directives(headers.get('content-security-policy')).get('default-src')).toBe("'none'");
    },
  );

  it('gives API responses a policy that loads nothing and forbids framing', async () => {
    const { headers } = await http(t.baseUrl, 'GET', '/health');
    expect(directives(headers.get('content-security-policy'))).toEqual(
      new Map([
        ['default-src', "'none'"],
        ['base-uri', "'none'"],
        ['form-action', "'none'"],
        ['frame-ancestors', "'none'"],
      ]),
    );
  });

  it('serves /metrics without a token when METRICS_TOKEN is unset', async () => {
    const response = await http(t.baseUrl, 'GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.text).toMatch(/^live_dubbing_sessions 0$/m);
  });

  it('serves the Swagger UI under a policy that lets it load its own scripts and styles only', async () => {
    const page = await http(t.baseUrl, 'GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('x-powered-by')).toBeNull();
    const policy = directives(page.headers.get('content-security-policy'));
    expect(policy.get('default-src')).toBe("'self'");
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('frame-ancestors')).toBe("'none'");
    // The page styles itself with inline <style> blocks.
    expect(page.text).toContain('<style>');
    expect(policy.get('style-src')).toBe("'self' 'unsafe-inline'");
    // Every script is a file from this origin, which 'self' covers: no inline script needs 'unsafe-inline'.
    const scripts = [...page.text.matchAll(/<script([^>]*)>/g)].map(([, attributes]) => /src=["']([^"']+)["']/.exec(attributes)?.[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      expect(src).toMatch(/^\.?\/?[\w./-]+\.js$/);
      const asset = await http(t.baseUrl, 'GET', new URL(src!, `${t.baseUrl}/docs`).pathname);
      expect(asset.status).toBe(200);
      expect(directives(asset.headers.get('content-security-policy')).get('script-src')).toBe("'self'");
    }
  });

  it('serves the OpenAPI JSON under the API policy', async () => {
    const response = await http(t.baseUrl, 'GET', '/docs-json');
    expect(response.status).toBe(200);
    expect(response.body.openapi).toMatch(/^3\./);
    expect(directives(response.headers.get('content-security-policy')).get('default-src')).toBe("'none'");
  });
});

describe('HTTP surface with METRICS_TOKEN set and DOCS_ENABLED=false', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { METRICS_TOKEN, DOCS_ENABLED: 'false' } });
  });

  afterAll(async () => {
    await t.close();
  });

  const metrics = (authorization?: string) =>
    http(t.baseUrl, 'GET', '/metrics', { headers: authorization === undefined ? {} : { authorization } });

  it('serves /metrics to a bearer of the token', async () => {
    const response = await metrics(`Bearer ${METRICS_TOKEN}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(response.text).toMatch(/^live_dubbing_sessions 0$/m);
  });

  it.each([
    ['no Authorization header', undefined],
    ['another token', 'Bearer metrics-scrape-token-0123456789abcdeX'],
    ['a prefix of the token', `Bearer ${METRICS_TOKEN.slice(0, -1)}`],
    ['the token under another scheme', `Basic ${METRICS_TOKEN}`],
    ['the token alone', METRICS_TOKEN],
  ])('answers 401 to a request with %s', async (_, authorization) => {
    const response = await metrics(authorization);
    expect(response.status).toBe(401);
    expect(response.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'A valid metrics token is required',
      code: 'unauthorized',
    });
  });

  it.each(['/docs', '/docs/', '/docs-json', '/docs/swagger-ui-bundle.js', '/docs/asyncapi.json'])('answers 404 on %s', async (path) => {
    const response = await http(t.baseUrl, 'GET', path);
    expect(response.status).toBe(404);
    expect(response.text).toContain(`Cannot GET ${path}`);
  });

  it('keeps /health open', async () => {
    expect((await http(t.baseUrl, 'GET', '/health')).status).toBe(200);
  });
});
