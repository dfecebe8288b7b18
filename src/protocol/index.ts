/**
 * The live WebSocket protocol as one definition (docs/protocol.md): message schemas and types, error codes, close codes
 * with the client's action for each, and the audio format. It depends on TypeBox alone (no Node, no Nest), so the
 * server, the tests and a browser client all use it; the AsyncAPI document served at `/docs/asyncapi.json` is built
 * from it.
 */
export * from './audio.js';
export * from './close-codes.js';
export * from './error-codes.js';
export * from './messages.js';
export * from './asyncapi.js';
