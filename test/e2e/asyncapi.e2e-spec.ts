import { createAsyncApiDocument } from '../../src/protocol/index.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { http } from '../harness/http.js';
import { assertServerMessage, asyncApiSpecValidator } from '../harness/protocol-validator.js';

describe('The AsyncAPI document of the live protocol', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('is served at /docs/asyncapi.json, a valid AsyncAPI 3.0.0 document built from the protocol definition', async () => {
    const response = await http(t.baseUrl, 'GET', '/docs/asyncapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const validate = asyncApiSpecValidator();
    expect(validate(response.body) ? [] : validate.errors).toEqual([]);
    expect(response.body).toEqual(createAsyncApiDocument());
    expect(Object.values(response.body.channels).map((channel: any) => channel.address)).toEqual([
      '/ws/live-dubbing',
      '/ws/live-subtitles',
    ]);
  });

  it('is linked from the OpenAPI document that /docs shows', async () => {
    const openApi = (await http(t.baseUrl, 'GET', '/docs-json')).body;
    expect(openApi.info.description).toContain('(/docs/asyncapi.json)');
  });

  it('is what the test clients check every server message against', () => {
    expect(() => assertServerMessage({ type: 'pong' }, '/ws/live-subtitles')).not.toThrow();
    expect(() => assertServerMessage({ type: 'pong', late: true }, '/ws/live-dubbing')).toThrow(/must NOT have additional properties/);
    expect(() => assertServerMessage({ type: 'idle_warning', seconds_left: '10' }, 'ws://127.0.0.1:1/ws/live-dubbing')).toThrow(
      /seconds_left must be integer/,
    );
    expect(() => assertServerMessage({ type: 'hello' }, '/ws/live-dubbing')).toThrow(/no message of type "hello"/);
  });
});
