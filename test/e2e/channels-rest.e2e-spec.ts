import type { ChannelRecord } from '../../src/channels/channels.repository.js';
import { startTestApp, type TestApp } from '../harness/app.js';
import { createChannel, createUserWithToken } from '../harness/factories.js';
import { http } from '../harness/http.js';
import { TestWsClient } from '../harness/ws-client.js';

const OPENABLE: Partial<ChannelRecord>[] = [
  { id: 'a-sports', name: 'Sports', sourceLanguage: 'es', dubbingLanguages: ['en'] },
  { id: 'b-news', name: 'News', sourceLanguage: 'he', dubbingLanguages: ['en', 'es', 'pt-BR'] },
  { id: 'c-music', name: 'Music', sourceLanguage: 'en', dubbingLanguages: ['he'] },
  { id: 'd-kids', name: 'Kids', sourceLanguage: 'fr', dubbingLanguages: ['en', 'de'] },
  { id: 'e-docs', name: 'Docs', sourceLanguage: 'de', dubbingLanguages: ['fr'] },
];

/** Refused at the opening, so never listed; their ids fall between the listed ones, so a page must skip them. */
const NOT_OPENABLE: Partial<ChannelRecord>[] = [
  { id: 'b1-offline', isLive: false },
  { id: 'c1-no-dubbing', supportsDubbing: false },
  { id: 'd1-no-languages', dubbingLanguages: [] },
];

const listed = OPENABLE.map((channel) => ({
  id: channel.id,
  name: channel.name,
  source_language: channel.sourceLanguage,
  dubbing_languages: channel.dubbingLanguages,
}));

describe('GET /api/v1/channels', () => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await startTestApp();
    token = (await createUserWithToken(t.app)).token;
    for (const channel of [...NOT_OPENABLE, ...OPENABLE].reverse()) {
      await createChannel(t.app, channel);
    }
  });

  afterAll(async () => {
    await t.close();
  });

  const list = (query = '') => http(t.baseUrl, 'GET', `/api/v1/channels${query}`, { token });

  it('lists the live channels that support dubbing and offer a language, by id, with their languages', async () => {
    const response = await list();
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ channels: listed, next_cursor: null });
  });

  it('pages by id with a cursor, skipping the channels it does not list', async () => {
    const pages: unknown[][] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const response = await list(`?limit=2${cursor === '' ? '' : `&cursor=${cursor}`}`);
      expect(response.status).toBe(200);
      pages.push(response.body.channels);
      cursor = response.body.next_cursor;
    }
    expect(pages).toEqual([listed.slice(0, 2), listed.slice(2, 4), listed.slice(4)]);
  });

  it('reads any cursor of the documented form as a position in the id order', async () => {
    const afterB = Buffer.from('b').toString('base64url');
    expect((await list(`?cursor=${afterB}`)).body).toEqual({ channels: listed.slice(1), next_cursor: null });
    const afterZ = Buffer.from('z').toString('base64url');
    expect((await list(`?cursor=${afterZ}`)).body).toEqual({ channels: [], next_cursor: null });
  });

  it('answers 401 without a valid bearer token', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-a-token' }] as Record<string, string>[]) {
      const response = await http(t.baseUrl, 'GET', '/api/v1/channels', { headers });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', code: 'unauthorized' });
    }
  });

  it.each([
    ['?limit=0', ['limit must not be less than 1']],
    ['?limit=101', ['limit must not be greater than 100']],
    ['?limit=05', ['limit must be an integer number']],
    ['?cursor=not%20a%20cursor', ['cursor must be a string of 1 to 2048 characters matching ^[A-Za-z0-9_-]+$']],
    ['?limit=x&cursor=', ['limit must be an integer number', 'cursor must be a string of 1 to 2048 characters matching ^[A-Za-z0-9_-]+$']],
    ['?feature=live_dubbing', ['property feature should not exist']],
  ])('answers %s with a 400 naming every field problem', async (query, messages) => {
    const response = await list(query);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.arrayContaining(messages) });
  });

  it.each(['/ws/live-dubbing', '/ws/live-subtitles'])('lists exactly what an opening on %s accepts', async (path) => {
    const premium = await createUserWithToken(t.app, { tier: 'premium' });
    const open = async (channelId: string, targetLang: string) => {
      const client = await TestWsClient.connect(t.baseUrl, path);
      client.send({ type: 'auth', token: premium.token, channel_id: channelId, target_lang: targetLang });
      return client;
    };
    const accepted = await open('b-news', 'pt-BR');
    await accepted.next('ready');
    accepted.send({ type: 'stop' });
    await accepted.next('session_ended');
    for (const { id } of NOT_OPENABLE) {
      expect((await (await open(id!, 'en')).waitClose()).code).toBe(4004);
    }
  });
});
