import { request } from 'node:http';
import { ErrorCode } from '../../src/common/errors/domain-error.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { http } from '../harness/http.js';

const METRICS_TOKEN = 'metrics-scrape-token-0123456789abcdef';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

type Operation = { parameters?: { name: string; in: string }[]; responses: Record<string, any>; security?: unknown[]; requestBody?: any };

/** Any method, TRACE included (fetch refuses it); a JSON body parsed. */
function send(baseUrl: string, method: string, path: string): Promise<{ status: number; allow?: string; body: unknown }> {
  return new Promise((resolve, reject) => {
    request(new URL(path, baseUrl), { method }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        const json = response.headers['content-type']?.startsWith('application/json') === true;
        resolve({
          status: response.statusCode!,
          allow: response.headers.allow,
          body: text === '' ? undefined : json ? JSON.parse(text) : text,
        });
      });
    })
      .on('error', reject)
      .end();
  });
}

function operationsOf(document: any): [string, string, Operation][] {
  return Object.entries(document.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]): [string, string, Operation] => [method.toUpperCase(), path, operation]),
  );
}

describe('The OpenAPI document', () => {
  let t: TestApp;
  let document: any;

  beforeAll(async () => {
    t = await startTestApp();
    document = (await http(t.baseUrl, 'GET', '/docs-json')).body;
  });

  afterAll(async () => {
    await t.close();
  });

  it('declares every path parameter of every operation', () => {
    for (const [method, path, operation] of operationsOf(document)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name).sort();
      const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
      expect({ operation: `${method} ${path}`, declared: declared.sort() }).toEqual({ operation: `${method} ${path}`, declared: inPath });
    }
  });

  it('gives every success a described schema, never an empty one', () => {
    for (const [method, path, operation] of operationsOf(document)) {
      const successes = Object.entries(operation.responses).filter(([status]) => status.startsWith('2'));
      expect(successes.length).toBeGreaterThan(0);
      for (const [status, response] of successes) {
        const schemas = Object.values(response.content ?? {}).map((media: any) => media.schema);
        expect({ operation: `${method} ${path} ${status}`, schemas: schemas.length }).toEqual({
          operation: `${method} ${path} ${status}`,
          schemas: 1,
        });
        expect(schemas[0]).not.toEqual({});
      }
    }
  });

  it('documents the errors of every operation with the one error body', () => {
    for (const [method, path, operation] of operationsOf(document)) {
      const errors = Object.entries(operation.responses).filter(([status]) => /^[45]/.test(status) && status !== '431');
      expect(errors.map(([status]) => status)).toContain('500');
      if (operation.security !== undefined) {
        expect({ operation: `${method} ${path}`, has401: '401' in operation.responses }).toEqual({
          operation: `${method} ${path}`,
          has401: true,
        });
      }
      for (const [status, response] of errors) {
        const [base, narrowed] = response.content['application/json'].schema.allOf;
        expect(base).toEqual({ $ref: '#/components/schemas/HttpErrorBody' });
        expect(narrowed.properties.statusCode.enum).toEqual([Number(status)]);
      }
    }
  });

  it('lists every stable error code in the error body', () => {
    expect(document.components.schemas.HttpErrorBody.properties.code.enum).toEqual(Object.values(ErrorCode));
  });

  it('closes every request body, as the validation refuses undeclared properties', () => {
    const bodies = operationsOf(document)
      .map(([, , operation]) => operation.requestBody?.content['application/json'].schema.$ref)
      .filter((ref): ref is string => ref !== undefined);
    expect(bodies.length).toBeGreaterThan(0);
    for (const ref of bodies) {
      expect(document.components.schemas[ref.split('/').pop()!].additionalProperties).toBe(false);
    }
  });

  it('documents a grant: its key required, a positive amount, an expiry that may be absent, and its refusals', () => {
    const body = document.components.schemas.GrantCreditsDto;
    expect(body.required.sort()).toEqual(['amount', 'idempotency_key', 'reason']);
    expect(body.properties.amount).toMatchObject({ type: 'integer', minimum: 1 });
    expect(body.properties.expires_at).toMatchObject({ type: 'string', format: 'date-time' });
    expect(body.properties.priority).toMatchObject({ type: 'integer', minimum: 0, maximum: 100, default: 10 });
    const grant = document.components.schemas.CreditGrantView;
    expect(grant.required).not.toContain('expires_at');
    expect(grant.properties.reason.nullable).toBe(true);
    const operation = document.paths['/api/v1/admin/beta/users/{email}/grants'].post;
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '404', '409', '413']));
    expect(operation.responses['400'].content['application/json'].schema.allOf[1].properties.code.enum).toEqual(['invalid_input']);
    const mine = document.components.schemas.MyCreditsView;
    expect(mine.required).toEqual(expect.arrayContaining(['grants', 'next_expiry']));
    expect(mine.properties.next_expiry).toMatchObject({ type: 'string', format: 'date-time', nullable: true });
    expect(document.components.schemas.ActiveGrantView.required).not.toContain('expires_at');
  });

  it('leaves /metrics open, as it is without METRICS_TOKEN', () => {
    const metrics = document.paths['/metrics'].get;
    expect(metrics.security).toBeUndefined();
    expect(metrics.responses['401']).toBeUndefined();
    expect(document.components.securitySchemes.metrics_token).toBeUndefined();
  });
});

describe('The OpenAPI document with METRICS_TOKEN set', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { METRICS_TOKEN } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('secures /metrics with its own bearer scheme and documents its 401', async () => {
    const document = (await http(t.baseUrl, 'GET', '/docs-json')).body;
    const metrics = document.paths['/metrics'].get;
    expect(metrics.security).toEqual([{ metrics_token: [] }]);
    expect(metrics.responses['401'].content['application/json'].example.code).toBe('unauthorized');
    expect(document.components.securitySchemes.metrics_token).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});

describe('Methods a path does not serve', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['TRACE', '/health', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['PUT', '/api/v1/users/me', 'GET, HEAD'],
    ['GET', '/api/v1/admin/users', 'POST'],
    ['OPTIONS', '/api/v1/beta/preauthorize', 'POST'],
    ['PATCH', '/api/v1/admin/beta/users/viewer@example.com', 'GET, HEAD'],
    ['DELETE', '/api/v1/admin/beta/invitations', 'GET, HEAD, POST'],
    ['POST', '/docs-json', 'GET, HEAD'],
  ])('answers %s %s with a 405 that allows %s, before any authentication', async (method, path, allow) => {
    const response = await send(t.baseUrl, method, path);
    expect(response.status).toBe(405);
    expect(response.allow).toBe(allow);
    expect(response.body).toEqual({
      statusCode: 405,
      error: 'Method Not Allowed',
      message: `${method} is not allowed on ${path}; allowed: ${allow}`,
    });
  });

  it.each([
    ['GET', '/api/v1/nothing-here'],
    ['POST', '/nothing-here'],
    ['TRACE', '/api/v1/admin/users/viewer@example.com/more'],
  ])('keeps %s %s, a path no route serves, a 404', async (method, path) => {
    const response = await send(t.baseUrl, method, path);
    expect(response.status).toBe(404);
    expect(response.allow).toBeUndefined();
  });

  it('answers HEAD where GET is served', async () => {
    expect(await send(t.baseUrl, 'HEAD', '/health')).toEqual({ status: 200, allow: undefined, body: undefined });
  });
});
