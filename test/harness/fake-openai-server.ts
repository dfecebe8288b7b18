import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for an OpenAI-compatible speech server (node:http on a free port). It checks what a real one
 * checks — the bearer key, multipart fields, a 16 kHz mono s16le WAV upload, JSON bodies — and answers 400 with the
 * problems otherwise. Tests can plan slow answers, 429/5xx, malformed JSON, wrong audio or dropped connections.
 */
export type FakeRoute = 'transcriptions' | 'chat' | 'speech';

export type FakeBehaviour =
  | { kind: 'ok'; delayMs?: number }
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; delayMs?: number }
  | { kind: 'malformed-json' }
  | { kind: 'json'; body: unknown }
  | { kind: 'audio'; body: Buffer; contentType?: string }
  | { kind: 'reset' };

export interface FakeRequest {
  route: FakeRoute;
  headers: IncomingMessage['headers'];
  /** JSON routes: the parsed body. */
  json?: any;
  /** Transcriptions: the text fields of the multipart form. */
  fields?: Record<string, string>;
  file?: { name: string; type: string; bytes: Buffer };
  problems: string[];
}

export interface FakeOpenAiServerOptions {
  apiKey: string;
  /** Rate of the raw PCM the speech route returns; OpenAI's is 24 kHz. */
  speechSampleRateHz?: number;
  /** How long the speech route talks per character of input; 50 ms by default. */
  speechMsPerCharacter?: number;
}

const ROUTES: Record<string, FakeRoute> = {
  '/v1/audio/transcriptions': 'transcriptions',
  '/v1/chat/completions': 'chat',
  '/v1/audio/speech': 'speech',
};

export class FakeOpenAiServer {
  readonly requests: FakeRequest[] = [];
  private readonly plans = new Map<FakeRoute, FakeBehaviour[]>();
  private readonly inFlight = new Map<FakeRoute, number>();
  private readonly maxInFlight = new Map<FakeRoute, number>();
  private delayOf: (request: FakeRequest) => number = () => 0;

  private constructor(
    private readonly server: Server,
    private readonly options: Required<FakeOpenAiServerOptions>,
  ) {}

  static async start(options: FakeOpenAiServerOptions): Promise<FakeOpenAiServer> {
    const server = createServer();
    const fake = new FakeOpenAiServer(server, { speechSampleRateHz: 24000, speechMsPerCharacter: 50, ...options });
    server.on('request', (request, response) =>
      fake.handle(request, response).catch((error: unknown) => send(response, 500, { error: { message: `fake server: ${error}` } })),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next requests to `route` behave as listed, in order; later ones are answered normally. */
  plan(route: FakeRoute, ...behaviours: FakeBehaviour[]): void {
    this.plans.set(route, [...(this.plans.get(route) ?? []), ...behaviours]);
  }

  /** Delays every normal answer by what `delayOf` draws for it. */
  delayAnswers(delayOf: (request: FakeRequest) => number): void {
    this.delayOf = delayOf;
  }

  requestsTo(route: FakeRoute): FakeRequest[] {
    return this.requests.filter((request) => request.route === route);
  }

  /** Every problem any request had: a provider that speaks the API correctly leaves this empty. */
  problems(): string[] {
    return this.requests.flatMap((request) => request.problems.map((problem) => `${request.route}: ${problem}`));
  }

  mostConcurrent(route: FakeRoute): number {
    return this.maxInFlight.get(route) ?? 0;
  }

  reset(): void {
    this.requests.length = 0;
    this.plans.clear();
    this.maxInFlight.clear();
    this.delayOf = () => 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const route = ROUTES[request.url ?? ''];
    if (route === undefined || request.method !== 'POST') {
      return send(response, 404, { error: { message: `No route ${request.method} ${request.url}` } });
    }
    this.track(route, response);
    const body = await readAll(request);
    const recorded: FakeRequest = { route, headers: request.headers, problems: [] };
    this.requests.push(recorded);
    if (request.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      // Like OpenAI, the refusal quotes what it received: a client must never pass this text on unredacted.
      return send(response, 401, { error: { message: `Incorrect API key provided: ${request.headers.authorization ?? 'none'}` } });
    }
    const answer = await this.check(route, request, body, recorded);
    if (recorded.problems.length > 0) {
      return send(response, 400, { error: { message: recorded.problems.join('; ') } });
    }
    const behaviour = this.plans.get(route)?.shift() ?? { kind: 'ok' };
    await sleep(this.delayFor(behaviour, recorded));
    if (!response.destroyed) {
      this.behave(behaviour, response, answer);
    }
  }

  private delayFor(behaviour: FakeBehaviour, recorded: FakeRequest): number {
    switch (behaviour.kind) {
      case 'ok':
        return behaviour.delayMs ?? this.delayOf(recorded);
      case 'status':
        return behaviour.delayMs ?? 0;
      default:
        return 0;
    }
  }

  private behave(behaviour: FakeBehaviour, response: ServerResponse, answer: () => Answer): void {
    switch (behaviour.kind) {
      case 'ok':
        return reply(response, answer());
      case 'status':
        response.writeHead(behaviour.status, {
          'content-type': 'application/json',
          ...(behaviour.retryAfter === undefined ? {} : { 'retry-after': behaviour.retryAfter }),
        });
        return void response.end(behaviour.body ?? JSON.stringify({ error: { message: `planned HTTP ${behaviour.status}` } }));
      case 'malformed-json':
        response.writeHead(200, { 'content-type': 'application/json' });
        return void response.end('{"text": "unterminated');
      case 'json':
        return send(response, 200, behaviour.body);
      case 'audio':
        response.writeHead(200, { 'content-type': behaviour.contentType ?? 'audio/pcm' });
        return void response.end(behaviour.body);
      case 'reset':
        return void response.socket?.destroy();
    }
  }

  private async check(route: FakeRoute, request: IncomingMessage, body: Buffer, recorded: FakeRequest): Promise<() => Answer> {
    switch (route) {
      case 'transcriptions':
        return this.checkTranscription(request, body, recorded);
      case 'chat':
        return this.checkChat(request, body, recorded);
      case 'speech':
        return this.checkSpeech(request, body, recorded);
    }
  }

  private async checkTranscription(request: IncomingMessage, body: Buffer, recorded: FakeRequest): Promise<() => Answer> {
    const contentType = request.headers['content-type'] ?? '';
    if (!/^multipart\/form-data; *boundary=/.test(contentType)) {
      recorded.problems.push(`content-type ${contentType} is not multipart/form-data with a boundary`);
      return () => ({ json: {} });
    }
    const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData().catch(() => undefined);
    if (form === undefined) {
      recorded.problems.push('the multipart body does not parse');
      return () => ({ json: {} });
    }
    recorded.fields = {};
    for (const [name, value] of form.entries()) {
      if (typeof value === 'string') {
        recorded.fields[name] = value;
      }
    }
    const file = form.get('file');
    if (!(file instanceof Blob) || typeof (file as File).name !== 'string') {
      recorded.problems.push('no file part');
      return () => ({ json: {} });
    }
    recorded.file = { name: (file as File).name, type: file.type, bytes: Buffer.from(await file.arrayBuffer()) };
    recorded.problems.push(...wavProblems(recorded.file.bytes));
    if (!recorded.fields.model) {
      recorded.problems.push('no model field');
    }
    if (recorded.fields.response_format !== undefined && !['json', 'text', 'verbose_json'].includes(recorded.fields.response_format)) {
      recorded.problems.push(`response_format ${recorded.fields.response_format} is not supported`);
    }
    if (recorded.fields.language !== undefined && !/^[a-z]{2,3}$/.test(recorded.fields.language)) {
      recorded.problems.push(`language ${recorded.fields.language} is not an ISO-639 code`);
    }
    const durationMs = ((recorded.file.bytes.length - 44) / 32000) * 1000;
    return () => ({ json: { text: `heard ${recorded.file!.name}, ${Math.round(durationMs)} ms` } });
  }

  private checkChat(request: IncomingMessage, body: Buffer, recorded: FakeRequest): () => Answer {
    const json = parseJsonBody(request, body, recorded);
    const messages = json?.messages;
    if (typeof json?.model !== 'string' || json.model === '') {
      recorded.problems.push('no model');
    }
    if (!Array.isArray(messages) || messages.length === 0) {
      recorded.problems.push('no messages');
      return () => ({ json: {} });
    }
    for (const message of messages) {
      if (!['system', 'user', 'assistant', 'developer'].includes(message?.role) || typeof message?.content !== 'string') {
        recorded.problems.push(`bad message ${JSON.stringify(message)}`);
      }
    }
    if (json.temperature !== undefined && (typeof json.temperature !== 'number' || json.temperature < 0 || json.temperature > 2)) {
      recorded.problems.push(`temperature ${json.temperature} out of range`);
    }
    // The fake "model" reads the request as the system prompt describes it: a JSON object holding the text.
    const translationRequest = parseTranslationRequest(messages.findLast((message: any) => message?.role === 'user')?.content);
    if (translationRequest === undefined) {
      recorded.problems.push('the user message is not a JSON translation request');
      return () => ({ json: {} });
    }
    const content = `[${translationRequest.target_language}] ${translationRequest.text}`;
    return () => ({
      json: { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] },
    });
  }

  private checkSpeech(request: IncomingMessage, body: Buffer, recorded: FakeRequest): () => Answer {
    const json = parseJsonBody(request, body, recorded);
    for (const field of ['model', 'voice', 'input']) {
      if (typeof json?.[field] !== 'string' || json[field] === '') {
        recorded.problems.push(`no ${field}`);
      }
    }
    if (json?.response_format !== 'pcm') {
      recorded.problems.push(`response_format ${json?.response_format} is not pcm`);
    }
    // A 440 Hz tone as long as the input takes to say, as raw s16le mono at the server's rate.
    return () => ({ audio: toneAt(this.options.speechSampleRateHz, this.options.speechMsPerCharacter * String(json?.input).length) });
  }

  private track(route: FakeRoute, response: ServerResponse): void {
    const now = (this.inFlight.get(route) ?? 0) + 1;
    this.inFlight.set(route, now);
    this.maxInFlight.set(route, Math.max(now, this.maxInFlight.get(route) ?? 0));
    response.once('close', () => this.inFlight.set(route, (this.inFlight.get(route) ?? 1) - 1));
  }
}

type Answer = { json: unknown } | { audio: Buffer };

function reply(response: ServerResponse, answer: Answer): void {
  if ('json' in answer) {
    return send(response, 200, answer.json);
  }
  response.writeHead(200, { 'content-type': 'audio/pcm' });
  response.end(answer.audio);
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (!response.destroyed) {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }
}

function parseJsonBody(request: IncomingMessage, body: Buffer, recorded: FakeRequest): any {
  if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) {
    recorded.problems.push(`content-type ${request.headers['content-type']} is not application/json`);
  }
  try {
    recorded.json = JSON.parse(body.toString('utf8'));
    return recorded.json;
  } catch {
    recorded.problems.push('the body is not JSON');
    return undefined;
  }
}

function parseTranslationRequest(content: unknown): { text: string; target_language: string } | undefined {
  try {
    const request = JSON.parse(String(content));
    return typeof request?.text === 'string' && typeof request?.target_language === 'string' ? request : undefined;
  } catch {
    return undefined;
  }
}

/** What a strict server checks of an uploaded WAV: a canonical PCM header for 16 kHz mono 16-bit, sizes that add up. */
export function wavProblems(wav: Buffer): string[] {
  if (wav.length < 44) {
    return [`a WAV file of ${wav.length} bytes has no room for its header`];
  }
  const expect = (what: string, actual: unknown, expected: unknown) =>
    actual === expected ? [] : [`${what} is ${actual}, expected ${expected}`];
  return [
    ...expect('chunk id', wav.toString('ascii', 0, 4), 'RIFF'),
    ...expect('RIFF size', wav.readUInt32LE(4), wav.length - 8),
    ...expect('format', wav.toString('ascii', 8, 12), 'WAVE'),
    ...expect('fmt chunk id', wav.toString('ascii', 12, 16), 'fmt '),
    ...expect('fmt chunk size', wav.readUInt32LE(16), 16),
    ...expect('audio format', wav.readUInt16LE(20), 1),
    ...expect('channels', wav.readUInt16LE(22), 1),
    ...expect('sample rate', wav.readUInt32LE(24), 16000),
    ...expect('byte rate', wav.readUInt32LE(28), 32000),
    ...expect('block align', wav.readUInt16LE(32), 2),
    ...expect('bits per sample', wav.readUInt16LE(34), 16),
    ...expect('data chunk id', wav.toString('ascii', 36, 40), 'data'),
    ...expect('data size', wav.readUInt32LE(40), wav.length - 44),
    ...(wav.length > 44 ? [] : ['no audio data']),
  ];
}

const tones = new Map<string, Buffer>();

/** 440 Hz at `sampleRateHz`, raw s16le mono; memoized, as a fake answering hundreds of requests says the same things. */
export function toneAt(sampleRateHz: number, ms: number): Buffer {
  const key = `${sampleRateHz}:${ms}`;
  const cached = tones.get(key) ?? synthesizeTone(sampleRateHz, ms);
  tones.set(key, cached);
  return cached;
}

function synthesizeTone(sampleRateHz: number, ms: number): Buffer {
  const samples = Math.round((sampleRateHz * ms) / 1000);
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    pcm.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / sampleRateHz)), i * 2);
  }
  return pcm;
}

function readAll(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}
