import { Ajv } from 'ajv';
import { AuthMessageSchema, ControlMessageSchema } from '../protocol/index.js';
import { AuthMessage } from './auth-message.dto.js';
import { ControlMessage } from './control-message.dto.js';
import { checkMessage } from './live-dubbing.guards.js';

/**
 * The gateway checks a client's messages with its class-validator DTOs, which word the refusals; the protocol's schemas
 * (src/protocol) publish the same rules. This corpus holds both to the same answer, so neither drifts from the other.
 */
const ajv = new Ajv({ allErrors: true });
const schemaAccepts = { auth: ajv.compile(AuthMessageSchema), control: ajv.compile(ControlMessageSchema) };

const open = { type: 'auth', token: 'eyJ.a.b', channel_id: 'news-il', target_lang: 'en' };
const resume = { type: 'auth', token: 'eyJ.a.b', resume_token: 'q3V0' };
const auths: [string, object, boolean][] = [
  ['an opening', open, true],
  ['an opening with its source language', { ...open, source_lang: 'he' }, true],
  ['an opening to a regional language', { ...open, target_lang: 'pt-BR' }, true],
  ['a three-letter language', { ...open, target_lang: 'yue' }, true],
  ['a channel of every allowed character', { ...open, channel_id: 'a_B.9-z' }, true],
  ['a channel of 128 characters', { ...open, channel_id: 'c'.repeat(128) }, true],
  ['a token of 4096 characters', { ...open, token: 't'.repeat(4096) }, true],
  ['a resume', resume, true],
  ['a resume naming the channel and languages', { ...resume, channel_id: 'news-il', target_lang: 'en', source_lang: 'he' }, true],
  ['a resume token of 256 characters', { ...resume, resume_token: 'r'.repeat(256) }, true],
  ['no token', { ...open, token: undefined }, false],
  ['an empty token', { ...open, token: '' }, false],
  ['a token of 4097 characters', { ...open, token: 't'.repeat(4097) }, false],
  ['a numeric token', { ...open, token: 42 }, false],
  ['an opening without a channel', { ...open, channel_id: undefined }, false],
  ['an opening without a target language', { ...open, target_lang: undefined }, false],
  ['an empty channel', { ...open, channel_id: '' }, false],
  ['a channel of 129 characters', { ...open, channel_id: 'c'.repeat(129) }, false],
  ['a channel with a space', { ...open, channel_id: 'news il' }, false],
  ['a channel with a slash', { ...open, channel_id: 'news/il' }, false],
  ['a numeric channel', { ...open, channel_id: 7 }, false],
  ['an upper-case language', { ...open, target_lang: 'EN' }, false],
  ['a lower-case region', { ...open, target_lang: 'pt-br' }, false],
  ['a four-letter language', { ...open, target_lang: 'engl' }, false],
  ['a bad source language', { ...open, source_lang: 'hebrew' }, false],
  ['a null source language', { ...open, source_lang: null }, false],
  ['an unknown field', { ...open, extra: 1 }, false],
  ['a session id', { ...open, session_id: 'x' }, false],
  ['an empty resume token', { ...resume, resume_token: '' }, false],
  ['a resume token of 257 characters', { ...resume, resume_token: 'r'.repeat(257) }, false],
  ['a null resume token', { ...resume, resume_token: null }, false],
  ['a numeric resume token', { ...resume, resume_token: 5 }, false],
  ['a resume with a bad channel', { ...resume, channel_id: 'news il' }, false],
  ['a resume with a numeric channel', { ...resume, channel_id: 5 }, false],
  ['a resume with a bad target language', { ...resume, target_lang: 'english' }, false],
  ['a resume with an unknown field', { ...resume, extra: true }, false],
  ['another type', { ...open, type: 'stop' }, false],
];

const controls: [string, object, boolean][] = [
  ['stop', { type: 'stop' }, true],
  ['ping', { type: 'ping' }, true],
  ['flush', { type: 'flush' }, true],
  ['stop with a resume token', { type: 'stop', resume_token: 'x' }, false],
  ['ping with a field', { type: 'ping', at: 1 }, false],
  ['flush with a field', { type: 'flush', now: true }, false],
  ['auth as a control message', { type: 'auth' }, false],
  ['an unknown type', { type: 'pause' }, false],
];

const strip = (message: object) => JSON.parse(JSON.stringify(message)) as object;

describe('client message validation: the DTOs and the protocol schemas agree', () => {
  it.each(auths)('auth: %s', (_name, raw, valid) => {
    const message = strip(raw);
    expect({ dto: checkMessage(AuthMessage, message).problems.length === 0, schema: schemaAccepts.auth(message) }).toEqual({
      dto: valid,
      schema: valid,
    });
  });

  it.each(controls)('control: %s', (_name, raw, valid) => {
    const message = strip(raw);
    expect({ dto: checkMessage(ControlMessage, message).problems.length === 0, schema: schemaAccepts.control(message) }).toEqual({
      dto: valid,
      schema: valid,
    });
  });
});
