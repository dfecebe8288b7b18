import { createRestClient, RestError, type FetchLike } from './rest.js';

function fakeFetch(status: number, body: string) {
  const calls: { url: string; init: Parameters<FetchLike>[1] }[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, init });
    return { ok: status >= 200 && status < 300, status, text: async () => body };
  };
  return { fetch, calls };
}

describe('createRestClient', () => {
  it('reads a page of channels with the bearer token, the cursor and the limit', async () => {
    const page = {
      channels: [{ id: 'news-il', name: 'News IL', source_language: 'he', dubbing_languages: ['en'] }],
      next_cursor: 'bmV3cy1pbA',
    };
    const { fetch, calls } = fakeFetch(200, JSON.stringify(page));
    const rest = createRestClient({ baseUrl: 'http://api.test/', token: 'jwt', fetch });
    expect(await rest.channels()).toEqual(page);
    expect(await rest.channels('bmV3cy1pbA', 10)).toEqual(page);
    expect(calls.map((call) => call.url)).toEqual([
      'http://api.test/api/v1/channels',
      'http://api.test/api/v1/channels?cursor=bmV3cy1pbA&limit=10',
    ]);
    expect(calls[0].init).toEqual({ method: 'GET', headers: { accept: 'application/json', authorization: 'Bearer jwt' } });
  });

  it('reads the credits, asking a token function each time', async () => {
    const credits = {
      is_beta_user: true,
      total_credits: 500,
      remaining_credits: 440,
      held_credits: 60,
      available_credits: 380,
      active_sessions: 1,
    };
    const { fetch, calls } = fakeFetch(200, JSON.stringify(credits));
    let n = 0;
    const rest = createRestClient({ baseUrl: 'http://api.test', token: () => `jwt-${++n}`, fetch });
    expect(await rest.credits()).toEqual(credits);
    await rest.credits();
    expect(calls.map((call) => [call.url, call.init.headers.authorization])).toEqual([
      ['http://api.test/api/v1/beta/credits', 'Bearer jwt-1'],
      ['http://api.test/api/v1/beta/credits', 'Bearer jwt-2'],
    ]);
  });

  it('rejects with a RestError carrying the status, the body and its code', async () => {
    const body = { statusCode: 401, error: 'Unauthorized', message: 'Invalid token', code: 'unauthorized' };
    const rest = createRestClient({ baseUrl: 'http://api.test', token: 'bad', fetch: fakeFetch(401, JSON.stringify(body)).fetch });
    const error: RestError = await rest.credits().catch((e) => e);
    expect(error).toBeInstanceOf(RestError);
    expect({ status: error.status, body: error.body, code: error.code, message: error.message }).toEqual({
      status: 401,
      body,
      code: 'unauthorized',
      message: '401 from http://api.test/api/v1/beta/credits: Invalid token',
    });
    const text = await createRestClient({ baseUrl: 'http://api.test', token: 't', fetch: fakeFetch(502, 'Bad gateway').fetch })
      .channels()
      .catch((e) => e);
    expect({ status: text.status, body: text.body, code: text.code }).toEqual({ status: 502, body: 'Bad gateway', code: undefined });
  });
});
