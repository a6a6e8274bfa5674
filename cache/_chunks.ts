// Internal: groups a stream into arrays for batched cache lookups, without
// holding items back when the stream is slow.

import { setImmediate } from "node:timers";

const NOT_READY = Symbol("not ready");

/** Resolves with `NOT_READY` after the pending I/O callbacks and microtasks have run. */
function macrotask(): Promise<typeof NOT_READY> {
  return new Promise((resolve) => setImmediate(() => resolve(NOT_READY)));
}

async function* fromIterable<T>(inputs: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  yield* inputs;
}

/**
 * Yields the items of `inputs` in arrays of `size`, or fewer as soon as the
 * source makes us wait (its next item is not there after a macrotask), so a
 * slow stream's items are not held back for company. The last array may be
 * short; no array is empty.
 */
export async function* chunks<T>(
  inputs: AsyncIterable<T> | Iterable<T>,
  size: number,
): AsyncGenerator<T[]> {
  const source = fromIterable(inputs);
  let chunk: T[] = [];
  let next: Promise<IteratorResult<T>> | undefined;
  try {
    for (;;) {
      next ??= source.next();
      const result = chunk.length === 0 ? await next : await Promise.race([next, macrotask()]);
      if (result !== NOT_READY) {
        next = undefined;
        if (!result.done) {
          chunk.push(result.value);
          if (chunk.length < size) continue;
        }
      }
      if (chunk.length > 0) yield chunk;
      chunk = [];
      if (result !== NOT_READY && result.done) return;
    }
  } finally {
    // Not awaited: with a read still pending, return() waits for it to settle.
    source.return(undefined).catch(() => {});
  }
}
