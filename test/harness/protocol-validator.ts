import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { createAsyncApiDocument } from '../../src/protocol/index.js';

/**
 * Every text message a test client receives is checked against the published contract: the payload schemas of the
 * AsyncAPI document the service serves at /docs/asyncapi.json (docs/protocol.md), for what the server sends on the
 * socket's path. A message that breaks it fails the test.
 */

type Json = any;

const document: Json = createAsyncApiDocument();
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);

/** The value a local `$ref` (`#/a/b`) of the document points at. */
function resolve(node: Json): Json {
  while (node !== null && typeof node === 'object' && typeof node.$ref === 'string') {
    node = (node.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce((value: Json, key) => value[key.replace(/~1/g, '/').replace(/~0/g, '~')], document);
  }
  return node;
}

/** For each channel address: a validator per JSON message type the server sends there. */
const validators = new Map<string, Map<string, ValidateFunction>>();
for (const operation of Object.values<Json>(document.operations)) {
  if (operation.action !== 'send') {
    continue;
  }
  const address: string = resolve(operation.channel).address;
  const byType = validators.get(address) ?? new Map<string, ValidateFunction>();
  validators.set(address, byType);
  for (const reference of operation.messages) {
    const message = resolve(reference);
    if ((message.contentType ?? document.defaultContentType) !== 'application/json') {
      continue;
    }
    const payload = resolve(message.payload);
    byType.set(payload.properties.type.const, ajv.compile(payload));
  }
}

/** What is wrong with `message` as a server message on `path` (or a ws URL), or undefined when it keeps the contract. */
export function serverMessageProblem(message: unknown, path: string): string | undefined {
  const address = path.startsWith('ws') || path.startsWith('http') ? new URL(path).pathname : path;
  const byType = validators.get(address);
  if (byType === undefined) {
    return `no AsyncAPI channel at ${address}`;
  }
  const type = (message as { type?: unknown } | null)?.type;
  const validate = typeof type === 'string' ? byType.get(type) : undefined;
  if (validate === undefined) {
    return `the server sent ${JSON.stringify(message)} on ${address}: no message of type ${JSON.stringify(type)} in the AsyncAPI document`;
  }
  if (validate(message)) {
    return undefined;
  }
  return `the server sent ${JSON.stringify(message)} on ${address}, which breaks the AsyncAPI document: ${ajv.errorsText(validate.errors, { dataVar: type as string })}`;
}

/** Throws when `message` breaks the contract of `path` (the channel address or a ws URL). */
export function assertServerMessage(message: unknown, path: string): void {
  const problem = serverMessageProblem(message, path);
  if (problem !== undefined) {
    throw new Error(problem);
  }
}

/** The official AsyncAPI 3.0.0 JSON Schema (draft-07) from @asyncapi/specs, compiled. */
export function asyncApiSpecValidator(): ValidateFunction {
  const schema = (createRequire(import.meta.url)('@asyncapi/specs') as { schemas: Record<string, object> }).schemas['3.0.0'];
  // The schema bundles its own copy of the draft-07 meta-schema, so Ajv's is left out.
  const specAjv = new Ajv({ allErrors: true, strict: false, meta: false, validateSchema: false });
  addFormats.default(specAjv);
  return specAjv.compile(schema);
}
