/**
 * The server's request handler: Gemini REST and OpenAI-compatible embedding
 * routes, health and metrics, with every request's texts batched together.
 *
 * @module
 */

import type { BatchStrategy } from "../batcher.ts";
import { parseDuration } from "../duration.ts";
import type { RetryOptions } from "../resilience/retry.ts";
import { EmbeddingService } from "./_service.ts";
import type { UpstreamFactory } from "./upstream.ts";

/** Options of {@linkcode createEmbeddingHandler}. */
export interface EmbeddingHandlerOptions {
  /** Makes the embedder for each group of texts, such as `geminiUpstream(…)`. */
  upstream: UpstreamFactory;
  /**
   * The models served (without `models/`); a request for another gets 404.
   * Every model is served when unset.
   *
   * @default {undefined}
   */
  models?: readonly string[];
  /**
   * The client tokens accepted (from `x-goog-api-key`, `Authorization:
   * Bearer` or `?key=`); no authentication when unset or empty.
   *
   * @default {[]}
   */
  tokens?: readonly string[];
  /**
   * The most texts per upstream call.
   *
   * @default {100}
   */
  batchSize?: number;
  /**
   * The longest the first text of a batch waits for more: milliseconds or a string like `"20ms"`.
   *
   * @default {"50ms"}
   */
  timeout?: number | string;
  /**
   * `"fixed"` or `"adaptive"` batching (see `Batcher`).
   *
   * @default {"fixed"}
   */
  strategy?: BatchStrategy;
  /**
   * The most upstream calls in flight per group (model, dimensions, task type, title).
   *
   * @default {4}
   */
  concurrency?: number;
  /**
   * The most upstream calls per minute, all groups together.
   *
   * @default {Infinity}
   */
  rpm?: number;
  /**
   * The most (estimated) upstream tokens per minute, all groups together.
   *
   * @default {Infinity}
   */
  tpm?: number;
  /**
   * How long one upstream call may take before it is retried: milliseconds or a string.
   *
   * @default {"60s"}
   */
  callTimeout?: number | string;
  /**
   * Upstream retries (429s, 5xx, timeouts): absorbed while the request's deadline allows.
   *
   * @default {{ maxAttempts: 10, maxRetryTime: requestTimeout }}
   */
  retry?: RetryOptions;
  /**
   * How long a request may wait for its vectors before it is answered 504:
   * milliseconds or a string like `"30s"`.
   *
   * @default {"60s"}
   */
  requestTimeout?: number | string;
  /**
   * The most texts admitted and not yet answered, all clients together; past
   * it requests are answered 503 with `Retry-After`.
   *
   * @default {10000}
   */
  maxQueue?: number;
  /**
   * The most distinct groups (model, dimensions, task type, title) alive at once.
   *
   * @default {64}
   */
  maxGroups?: number;
  /**
   * The largest request body, in bytes; past it requests are answered 413.
   *
   * @default {4194304}
   */
  maxBodyBytes?: number;
  /**
   * The most requests one client (one token) may have in flight; past it, 429.
   *
   * @default {1024}
   */
  clientConcurrency?: number;
  /**
   * The most requests one client (one token) may start per second; past it, 429.
   *
   * @default {Infinity}
   */
  clientRps?: number;
  /**
   * Receives one line per server-side failure (5xx). Lines never hold tokens, keys or texts.
   *
   * @default {undefined}
   */
  onLog?: (line: string) => void;
}

/** A request handler for `Deno.serve`, with its metrics and a graceful close. */
export interface EmbeddingHandler {
  /**
   * Answers one request.
   *
   * @param request The HTTP request.
   * @returns The answer; it never rejects.
   */
  (request: Request): Promise<Response>;
  /** Texts admitted and not yet answered. */
  readonly pending: number;
  /** Embedding requests being served. */
  readonly inFlight: number;
  /**
   * The Prometheus exposition text that `GET /metrics` answers.
   *
   * @returns The metrics.
   */
  metricsText(): string;
  /**
   * Drains: new embedding requests get 503, queued texts are sent at once,
   * and requests in flight are answered; those still waiting after `graceMs`
   * get 503. Calling it again returns the same promise.
   *
   * @param graceMs How long requests in flight may take to finish.
   * @returns A promise that resolves once every request has been answered.
   */
  close(graceMs?: number): Promise<void>;
}

function durationMs(value: number | string, name: string): number {
  try {
    const ms = parseDuration(value, name);
    if (ms === 0) throw new RangeError(`${name} must be positive, received 0`);
    return ms;
  } catch (error) {
    throw new RangeError(`Cannot create embedding handler: ${(error as Error).message}`);
  }
}

/**
 * Creates the server's request handler (for `Deno.serve`, or called directly
 * in tests). Routes:
 *
 * - `POST /{v1,v1beta}/models/{model}:embedContent` and `:batchEmbedContents`:
 *   Gemini REST, answered in Gemini's shapes and error shape.
 * - `POST /v1/embeddings`: OpenAI-compatible (`input` a string or array,
 *   `model`, `dimensions`, `encoding_format` `float` or `base64`), with `usage`.
 * - `GET /healthz` (503 while draining) and `GET /metrics` (Prometheus text).
 *
 * Texts from all requests join shared batches per (model, dimensions, task
 * type, title); identical texts waiting at once are sent once; a request is
 * answered when all its texts are done, and a client that disconnects is
 * dropped before its texts are sent.
 *
 * @param options The upstream, batching, auth and limits.
 * @returns The handler.
 * @throws {RangeError} If a limit or duration is out of range.
 * @throws {TypeError} If a token is empty or padded with whitespace.
 *
 * @example Batching the texts of two protocols into one call
 * ```ts
 * import { createEmbeddingHandler } from "./handler.ts";
 * import assert from "node:assert/strict";
 *
 * const calls: string[][] = [];
 * const handler = createEmbeddingHandler({
 *   upstream: () => ({
 *     embed: (texts) => {
 *       calls.push([...texts]);
 *       return Promise.resolve(texts.map((t) => [t.length]));
 *     },
 *   }),
 *   tokens: ["client-token"],
 *   batchSize: 3, // the batch leaves when the third text arrives
 *   timeout: "1m",
 * });
 * const post = (path: string, body: unknown, headers: Record<string, string>) =>
 *   handler(new Request(`http://embatch${path}`, { method: "POST", body: JSON.stringify(body), headers }));
 * const [gemini, openai] = await Promise.all([
 *   post("/v1beta/models/gemini-embedding-001:embedContent",
 *     { content: { parts: [{ text: "hello" }] } }, { "x-goog-api-key": "client-token" }),
 *   post("/v1/embeddings", { model: "gemini-embedding-001", input: ["hi", "hey"] },
 *     { authorization: "Bearer client-token" }),
 * ]);
 * assert.deepEqual(await gemini.json(), { embedding: { values: [5] } });
 * assert.deepEqual((await openai.json()).data.map((d: { embedding: number[] }) => d.embedding), [[2], [3]]);
 * assert.deepEqual(calls, [["hello", "hi", "hey"]]);
 *
 * const refused = await post("/v1/embeddings", { model: "m", input: "x" }, {});
 * assert.equal(refused.status, 401);
 * assert.equal((await refused.json()).error.code, "invalid_api_key");
 * await handler.close();
 * ```
 */
export function createEmbeddingHandler(options: EmbeddingHandlerOptions): EmbeddingHandler {
  const requestTimeoutMs = durationMs(options.requestTimeout ?? "60s", "requestTimeout");
  const maxBodyBytes = positive("maxBodyBytes", options.maxBodyBytes ?? 4 * 1024 * 1024);
  const service = new EmbeddingService({
    tokens: options.tokens ?? [],
    models: options.models,
    clientConcurrency: options.clientConcurrency ?? 1024,
    clientRps: options.clientRps ?? Infinity,
    requestTimeoutMs,
    maxBodyBytes,
    batching: {
      upstream: options.upstream,
      batchSize: options.batchSize ?? 100,
      timeout: options.timeout ?? "50ms",
      strategy: options.strategy ?? "fixed",
      maxQueue: positive("maxQueue", options.maxQueue ?? 10_000),
      maxGroups: positive("maxGroups", options.maxGroups ?? 64),
    },
    resilience: {
      ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
      ...(options.rpm !== undefined && { rpm: options.rpm }),
      ...(options.tpm !== undefined && { tpm: options.tpm }),
      ...(options.callTimeout !== undefined && { callTimeout: options.callTimeout }),
      retry: { maxAttempts: 10, maxRetryTime: requestTimeoutMs, ...options.retry },
    },
    onLog: options.onLog,
  });
  const handler = (request: Request) => service.handle(request);
  // defineProperties, not Object.assign: assign would copy the getters' current values.
  return Object.defineProperties(handler, {
    pending: { get: () => service.pending },
    inFlight: { get: () => service.inFlight },
    metricsText: { value: () => service.metricsText() },
    close: { value: (graceMs = 10_000) => service.close(graceMs) },
  }) as EmbeddingHandler;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create embedding handler: ${name} must be a positive integer, received ${value}`,
    );
  }
  return value;
}
