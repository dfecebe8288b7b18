// The typed client library (src/client, docs/protocol.md "Client library"): the page's only way to the service.
export { createRestClient, LiveDubbingClient, LiveDubbingError } from '../../src/client/index.js';
export type { Channel, ClientState, EndedEvent, ErrorMessage } from '../../src/client/index.js';
