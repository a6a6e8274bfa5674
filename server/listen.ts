/**
 * Starts the embedding server with `Deno.serve`.
 *
 * @module
 */

import { createEmbeddingHandler, type EmbeddingHandlerOptions } from "./handler.ts";

/** Options of {@linkcode startServer}: where to listen, and the handler's options. */
export interface ServerOptions extends EmbeddingHandlerOptions {
  /**
   * The address to bind.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port; `0` picks a free one.
   *
   * @default {0}
   */
  port?: number;
  /**
   * Allow binding a non-loopback address without client tokens.
   *
   * @default {false}
   */
  insecureNoAuth?: boolean;
}

/** A running server. */
export interface EmbeddingServer extends AsyncDisposable {
  /** Its base URL, such as `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The bound address and port. */
  readonly addr: Deno.NetAddr;
  /** Texts admitted and not yet answered. */
  readonly pending: number;
  /**
   * The Prometheus text `/metrics` answers.
   *
   * @returns The metrics.
   */
  metricsText(): string;
  /**
   * Stops accepting connections, sends queued texts at once, answers the
   * requests in flight (those still waiting after `graceMs` get 503), then
   * closes. Calling it again returns the same promise.
   *
   * @param graceMs How long requests in flight may take to finish.
   * @returns A promise that resolves once the server has stopped.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Whether `hostname` only accepts connections from this machine.
 *
 * @param hostname An address or host name.
 * @returns `true` for `localhost`, `127.0.0.0/8` and `::1`.
 *
 * @example Usage
 * ```ts
 * import { isLoopback } from "./listen.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isLoopback("127.0.0.1"));
 * assert.ok(isLoopback("::1"));
 * assert.ok(!isLoopback("0.0.0.0"));
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Starts the server: {@linkcode createEmbeddingHandler} behind `Deno.serve`.
 *
 * @param options Address, port, and the handler's options.
 * @returns The running server.
 * @throws {TypeError} If `hostname` is not loopback, no tokens are given,
 * and `insecureNoAuth` is not set.
 * @throws {RangeError} If `port` is not an integer from 0 to 65535, or a
 * handler option is out of range.
 *
 * @example Usage
 * ```ts
 * import { startServer } from "./listen.ts";
 * import assert from "node:assert/strict";
 *
 * await using server = startServer({
 *   upstream: () => ({ embed: (texts) => Promise.resolve(texts.map(() => [1, 0])) }),
 *   timeout: "1ms",
 * });
 * const response = await fetch(`${server.url}/v1/embeddings`, {
 *   method: "POST",
 *   body: JSON.stringify({ model: "gemini-embedding-001", input: "hello" }),
 * });
 * const { data } = await response.json();
 * assert.deepEqual(data[0].embedding, [1, 0]);
 * assert.throws(() => startServer({ upstream: () => ({ embed: () => Promise.resolve([]) }), hostname: "0.0.0.0" }), TypeError);
 * ```
 */
export function startServer(options: ServerOptions): EmbeddingServer {
  const { hostname = "127.0.0.1", port = 0, insecureNoAuth = false, ...handlerOptions } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot start server: port must be an integer from 0 to 65535, received ${port}`,
    );
  }
  if (!isLoopback(hostname) && (options.tokens ?? []).length === 0 && !insecureNoAuth) {
    throw new TypeError(
      `Cannot start server: binding ${hostname} without client tokens would let anyone spend the API key; give tokens or insecureNoAuth`,
    );
  }
  const handler = createEmbeddingHandler(handlerOptions);
  const server = Deno.serve({ hostname, port, onListen: () => {} }, handler);
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let stopped: Promise<void> | undefined;
  const shutdown = (graceMs = 10_000): Promise<void> => {
    stopped ??= (async () => {
      const stopAccepting = server.shutdown();
      await handler.close(graceMs);
      await stopAccepting;
    })();
    return stopped;
  };
  return {
    url: `http://${host}:${addr.port}`,
    addr,
    get pending() {
      return handler.pending;
    },
    metricsText: () => handler.metricsText(),
    shutdown,
    [Symbol.asyncDispose]: () => shutdown(),
  };
}
