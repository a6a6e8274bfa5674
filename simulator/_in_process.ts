// Test helper (not part of the public API): routes the global `fetch` to a
// request handler in the same process, so that the real @google/genai SDK
// talks to the simulator without sockets and fake time drives everything.

/** A function that answers requests, such as the simulator's handler. */
export type Handler = (request: Request) => Promise<Response>;

/**
 * Replaces `globalThis.fetch` with a call to `handler` until disposed:
 * `using _fetch = routeFetchTo(handler);`.
 */
export function routeFetchTo(handler: Handler): Disposable {
  const original = globalThis.fetch;
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
    handler(new Request(input, init));
  return {
    [Symbol.dispose]() {
      globalThis.fetch = original;
    },
  };
}
