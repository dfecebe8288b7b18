import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { createAsyncApiDocument } from './asyncapi.js';
import { CLOSE_CODES, SERVER_MESSAGE_SCHEMAS } from './index.js';

const require = createRequire(import.meta.url);

/** The official AsyncAPI 3.0.0 JSON Schema (draft-07), as the @asyncapi/specs package publishes it. */
function asyncApiValidator() {
  const schema = (require('@asyncapi/specs') as { schemas: Record<string, object> }).schemas['3.0.0'];
  // The schema bundles its own copy of the draft-07 meta-schema, so Ajv's is left out.
  const ajv = new Ajv({ allErrors: true, strict: false, meta: false, validateSchema: false });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

describe('the AsyncAPI document', () => {
  const document = createAsyncApiDocument() as any;

  it('is a valid AsyncAPI 3.0.0 document', () => {
    const validate = asyncApiValidator();
    expect(validate(document) ? [] : validate.errors).toEqual([]);
  });

  it('is checked for real: the official schema refuses a broken copy', () => {
    const validate = asyncApiValidator();
    const broken = JSON.parse(JSON.stringify(document));
    broken.operations.liveDubbingSendText.action = 'publish';
    delete broken.info.version;
    expect(validate(broken)).toBe(false);
    expect(JSON.stringify(validate.errors)).toMatch(/version|action/);
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
  });

  it('has both gateways, what each sends and receives, and the close codes', () => {
    expect(Object.values(document.channels).map((channel: any) => channel.address)).toEqual(['/ws/live-dubbing', '/ws/live-subtitles']);
    const actions = Object.values(document.operations).map((operation: any) => `${operation.channel.$ref} ${operation.action}`);
    expect(new Set(actions)).toEqual(
      new Set([
        '#/channels/liveDubbing receive',
        '#/channels/liveDubbing send',
        '#/channels/liveSubtitles receive',
        '#/channels/liveSubtitles send',
      ]),
    );
    expect(document.components.messages.audio.contentType).toBe('application/octet-stream');
    expect(document.channels.liveDubbing.messages.dubbedAudio).toBeDefined();
    expect(document.channels.liveSubtitles.messages.dubbedAudio).toBeUndefined();
    expect(document.channels.liveDubbing['x-close-codes'].map((entry: any) => entry.code)).toEqual(Object.keys(CLOSE_CODES).map(Number));
  });

  it('carries the schema of every server message', () => {
    for (const [type, schema] of Object.entries(SERVER_MESSAGE_SCHEMAS)) {
      const payload = document.components.messages[type].payload.$ref.split('/').pop();
      expect(document.components.schemas[payload]).toEqual(JSON.parse(JSON.stringify(schema)));
    }
  });
});
