/** The close codes are part of the live protocol's one definition (src/protocol, docs/protocol.md "Close codes"). */
export { CLOSE_CODES, CloseCode, closeActionOf, type CloseAction, type CloseCodeInfo } from '../../protocol/close-codes.js';
