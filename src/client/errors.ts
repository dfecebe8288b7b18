import type { CloseAction, ErrorMessage } from '../protocol/index.js';

/**
 * Why a session could not be opened, resumed or stopped, or why it ended. `code` is the server's `error.code` when it
 * sent one (docs/protocol.md, "Error messages"); otherwise one of the client's own:
 * - `connection_closed`: the socket closed without an error message (`closeCode` says how);
 * - `window_over`: the retries of an opening refused 1013, or the resumes, ran past their window;
 * - `client_closed`: `close()` was called;
 * - `not_live`: the call needs a live session;
 * - `busy`: `open()` or `resume()` while a session is open;
 * - `token_unavailable`: the token function failed.
 */
export class LiveDubbingError extends Error {
  override readonly name = 'LiveDubbingError';

  constructor(
    readonly code: string,
    message: string,
    readonly details: {
      closeCode?: number;
      closeReason?: string;
      /** The server's `error` message, when it sent one. */
      error?: ErrorMessage;
      /** What a client does next (docs/protocol.md, "Close codes"): `open_new` after 4410, `stop` after 4409. */
      action?: CloseAction;
      cause?: unknown;
    } = {},
  ) {
    super(message);
  }

  get closeCode(): number | undefined {
    return this.details.closeCode;
  }

  get error(): ErrorMessage | undefined {
    return this.details.error;
  }

  get action(): CloseAction {
    return this.details.action ?? 'ended';
  }
}
