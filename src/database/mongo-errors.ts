import { mongo } from 'mongoose';

const DUPLICATE_KEY = 11000;

/** The server rejected a write because a unique index already holds the key. */
export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY;
}

/**
 * The database could not be reached or did not answer in time (a network error, no server to select, a timeout):
 * the operation may succeed later, unlike a refused write. A bulk write (`bulkWrite`, `insertMany`, and so the
 * batchers) reports such a failure as a `MongoBulkWriteError` that keeps the driver's error as its `errorResponse`.
 */
export function isDatabaseUnreachableError(error: unknown): boolean {
  if (error instanceof mongo.MongoBulkWriteError && error.errorResponse instanceof Error) {
    return isDatabaseUnreachableError(error.errorResponse);
  }
  return (
    error instanceof mongo.MongoNetworkError ||
    error instanceof mongo.MongoServerSelectionError ||
    error instanceof mongo.MongoNotConnectedError ||
    error instanceof mongo.MongoTopologyClosedError
  );
}

/**
 * Tells each caller of an unordered bulk write (insertMany, bulkWrite) that threw `error` what became of its own
 * statement: `settle` gets the server's error for a statement it refused, or undefined for one it applied. When the
 * error says nothing per statement (the command failed as a whole, or its write concern did), every caller is
 * rejected with it: each statement may or may not have been applied.
 */
export function settleUnorderedWrite<T extends { reject: (error: unknown) => void }>(
  callers: T[],
  error: unknown,
  settle: (caller: T, writeError: mongo.WriteError | undefined) => void,
): void {
  const refused = writeErrorsByIndex(error);
  if (refused === undefined) {
    callers.forEach((caller) => caller.reject(error));
    return;
  }
  callers.forEach((caller, index) => settle(caller, refused.get(index)));
}

/** The statements an unordered bulk write refused, by their index, when the error tells them apart; else undefined. */
function writeErrorsByIndex(error: unknown): Map<number, mongo.WriteError> | undefined {
  if (!(error instanceof mongo.MongoBulkWriteError) || error.result?.getWriteConcernError() !== undefined) {
    return undefined;
  }
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  if (writeErrors.length === 0) {
    return undefined;
  }
  return new Map(writeErrors.map((writeError) => [writeError.index, writeError]));
}
