/**
 * The typed client library of the live gateways and the REST endpoints a live page needs (docs/protocol.md, "Client
 * library"). It imports neither Node nor Nest, so that it bundles for a browser; in Node, pass the `ws` package's
 * `WebSocket` as the `WebSocket` option.
 */
export * from './backoff.js';
export * from './connection.js';
export * from './environment.js';
export * from './errors.js';
export * from './live-client.js';
export * from './rest.js';
export type * from '../protocol/index.js';
export { CLOSE_CODES, CloseCode, closeActionOf, type CloseAction, type CloseCodeInfo } from '../protocol/close-codes.js';
