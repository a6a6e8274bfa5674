/**
 * The server's request handler: Gemini REST and OpenAI-compatible embedding
 * routes, health and metrics, with every request's texts batched together.
 *
 * @module
 */

import type { BatchStrategy } from "../batcher.ts";
import { parseDuration } from "../duration.ts";
import { EmbeddingBatcherClosedError, EmbeddingError } from "../errors.ts";
import { EmbeddingMetrics } from "../metrics.ts";
import type { RetryOptions } from "../resilience/retry.ts";
import { requestToken, TokenSet } from "./_auth.ts";
import { readJsonBody } from "./_body.ts";
import { ClientLimits } from "./_client_limits.ts";
import { Deadlines } from "./_deadlines.ts";
import { Coalescer, type GroupedText } from "./_coalescer.ts";
import {
  batchEmbedContentsResponse,
  embedContentResponse,
  parseBatchEmbedContents,
  parseEmbedContent,
} from "./_gemini_protocol.ts";
import { HttpError, type Protocol } from "./_http_error.ts";
import { bareModel } from "./_model.ts";
import { embeddingsResponse, parseEmbeddingsRequest } from "./_openai_protocol.ts";
import { ServerMetrics } from "./_server_metrics.ts";
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

const GEMINI_ROUTE = /^\/(v1|v1beta)\/models\/([^/:]+):(embedContent|batchEmbedContents)$/;
const CLIENT_GONE = new DOMException("The client disconnected", "AbortError");

function durationMs(value: number | string, name: string): number {
  try {
    const ms = parseDuration(value, name);
    if (ms === 0) throw new RangeError(`${name} must be positive, received 0`);
    return ms;
  } catch (error) {
    throw new RangeError(`Cannot create embedding handler: ${(error as Error).message}`);
  }
}

/** Turns whatever a request failed with into the answer's error. */
function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof EmbeddingBatcherClosedError) {
    return new HttpError("overloaded", "Server is shutting down: retry on another instance", {
      retryAfter: 1,
    });
  }
  if (!(error instanceof EmbeddingError)) {
    return new HttpError("internal", "Internal error: the request could not be served");
  }
  const { code, status = 0, message } = error;
  if (code === "TOKEN_LIMIT" || code === "EMPTY_TEXT") return new HttpError("invalid", message);
  if (code === "RESOURCE_EXHAUSTED" || status === 429) {
    return new HttpError(
      "overloaded",
      "Upstream quota exhausted: retries did not get through before the deadline",
      { retryAfter: 5 },
    );
  }
  if (status === 401 || status === 403 || /API key/i.test(message)) {
    return new HttpError("upstream", "Upstream refused the server's credentials");
  }
  if (status === 400) return new HttpError("invalid", `Upstream refused the request: ${message}`);
  if (status === 404) return new HttpError("not_found", `Upstream: ${message}`);
  return new HttpError("upstream", `Upstream call failed: ${code}`);
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
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const maxQueue = options.maxQueue ?? 10_000;
  const maxGroups = options.maxGroups ?? 64;
  for (
    const [name, value] of [["maxBodyBytes", maxBodyBytes], ["maxQueue", maxQueue], [
      "maxGroups",
      maxGroups,
    ]] as const
  ) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot create embedding handler: ${name} must be a positive integer, received ${value}`,
      );
    }
  }
  const tokens = new TokenSet(options.tokens ?? []);
  const limits = new ClientLimits(options.clientConcurrency ?? 1024, options.clientRps ?? Infinity);
  const served = options.models === undefined ? undefined : new Set(options.models.map(bareModel));
  let inFlight = 0;
  const upstreamMetrics = new EmbeddingMetrics();
  const m = new ServerMetrics({
    upstream: upstreamMetrics,
    queueDepth: () => coalescer.pending,
    inFlight: () => inFlight,
  });
  const coalescer = new Coalescer({
    upstream: options.upstream,
    batchSize: options.batchSize ?? 100,
    timeout: options.timeout ?? "50ms",
    strategy: options.strategy ?? "fixed",
    maxQueue,
    maxGroups,
    resilience: {
      ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
      ...(options.rpm !== undefined && { rpm: options.rpm }),
      ...(options.tpm !== undefined && { tpm: options.tpm }),
      ...(options.callTimeout !== undefined && { callTimeout: options.callTimeout }),
      retry: { maxAttempts: 10, maxRetryTime: requestTimeoutMs, ...options.retry },
      onCall: (record) => m.batchTexts.observe(record.texts),
    },
    metrics: upstreamMetrics,
    onItemLatency: (ms) => m.itemLatency.observe(ms / 1000),
  });
  const onStopCallbacks = new Set<() => void>();
  const deadlines = new Deadlines(requestTimeoutMs);
  let draining = false;
  let idle: (() => void) | undefined;
  let reading = 0; // requests accepted whose texts are not queued yet
  let allRead: (() => void) | undefined;
  let closing: Promise<void> | undefined;

  const checkModel = (model: string, protocol: Protocol) => {
    if (served !== undefined && !served.has(model)) {
      throw new HttpError(
        "not_found",
        protocol === "gemini"
          ? `models/${model} is not found: this server serves ${[...served].join(", ")}`
          : `The model '${model}' does not exist: this server serves ${[...served].join(", ")}`,
        { openaiCode: "model_not_found", param: "model" },
      );
    }
  };

  /** Authenticates, applies the client's limits, then runs `work` under the request's deadline. */
  const embedRoute = async (
    request: Request,
    url: URL,
    route: string,
    work: (body: unknown) => { items: GroupedText[]; answer: (vectors: number[][]) => unknown },
  ): Promise<Response> => {
    if (draining) {
      m.rejected.inc({ reason: "draining" });
      throw new HttpError("overloaded", "Server is shutting down: retry on another instance", {
        retryAfter: 1,
      });
    }
    let clientId = 0;
    if (tokens.size > 0) {
      const presented = requestToken(request, url);
      clientId = presented === undefined ? -1 : tokens.match(presented);
      if (clientId < 0) {
        m.rejected.inc({ reason: "auth" });
        throw new HttpError(
          "unauthenticated",
          presented === undefined
            ? "Missing client token: send it as x-goog-api-key, Authorization: Bearer, or ?key="
            : "Invalid client token",
        );
      }
    }
    const admission = limits.admit(clientId);
    if (!admission.ok) {
      m.rejected.inc({ reason: `client_${admission.reason}` });
      throw new HttpError(
        "rate_limited",
        admission.reason === "concurrency"
          ? `Too many requests in flight for this client: the limit is ${limits.concurrency}`
          : `Too many requests for this client: the limit is ${limits.rps} per second`,
        { retryAfter: admission.retryAfterSeconds },
      );
    }
    const controller = new AbortController();
    const onClientGone = () => controller.abort(CLIENT_GONE);
    const onStop = () =>
      controller.abort(
        new HttpError("overloaded", "Server shut down before the request finished", {
          retryAfter: 1,
        }),
      );
    const finished = deadlines.add(() =>
      controller.abort(
        new HttpError("deadline", `Request deadline exceeded: ${requestTimeoutMs} ms`),
      )
    );
    request.signal.addEventListener("abort", onClientGone, { once: true });
    // A set rather than a listener each on the long-lived stopping signal:
    // removing one of thousands of listeners scans them all.
    onStopCallbacks.add(onStop);
    inFlight++;
    reading++;
    let read = false;
    const doneReading = () => {
      if (read) return;
      read = true;
      if (--reading === 0) allRead?.();
    };
    try {
      let body: unknown;
      try {
        body = await readJsonBody(request, maxBodyBytes);
      } catch (error) {
        if (error instanceof HttpError && error.status === 413) {
          m.rejected.inc({ reason: "body_too_large" });
        }
        throw error;
      }
      const { items, answer } = work(body);
      m.texts.inc({ route }, items.length);
      const embedding = coalescer.embedAll(items, controller.signal);
      doneReading(); // its texts are queued: a drain may now flush the batches
      let vectors: number[][];
      try {
        vectors = await embedding;
      } catch (error) {
        if (error instanceof HttpError && error.status === 503) {
          m.rejected.inc({ reason: "queue_full" });
        }
        throw error;
      }
      return Response.json(answer(vectors));
    } finally {
      doneReading();
      finished();
      request.signal.removeEventListener("abort", onClientGone);
      onStopCallbacks.delete(onStop);
      admission.release();
      if (--inFlight === 0) idle?.();
    }
  };

  const gemini = (request: Request, url: URL, match: RegExpExecArray): Promise<Response> => {
    const [, , encodedModel = "", method] = match;
    const model = bareModel(decodeURIComponent(encodedModel));
    const route = method === "embedContent" ? "gemini_embed" : "gemini_batch";
    checkModel(model, "gemini");
    return embedRoute(request, url, route, (body) => {
      if (method === "embedContent") {
        const item = parseEmbedContent(body, model);
        return { items: [item], answer: ([vector]) => embedContentResponse(vector!) };
      }
      const items = parseBatchEmbedContents(body, model);
      return { items, answer: batchEmbedContentsResponse };
    });
  };

  const openai = (request: Request, url: URL): Promise<Response> =>
    embedRoute(request, url, "openai", (body) => {
      const parsed = parseEmbeddingsRequest(body);
      checkModel(parsed.model, "openai");
      const group = {
        model: parsed.model,
        ...(parsed.dimensions !== undefined && { dimensions: parsed.dimensions }),
      };
      return {
        items: parsed.texts.map((text) => ({ text, group })),
        answer: (vectors) => embeddingsResponse(parsed, vectors),
      };
    });

  const dispatch = (request: Request, url: URL): [string, Protocol, () => Promise<Response>] => {
    const { pathname } = url;
    const method = request.method;
    const only = (
      allowed: string,
      route: string,
      protocol: Protocol,
      run: () => Promise<Response>,
    ) =>
      [
        route,
        protocol,
        method === allowed ? run : () => {
          throw new HttpError("not_found", `Cannot ${method} ${pathname}: use ${allowed}`);
        },
      ] as [string, Protocol, () => Promise<Response>];
    if (pathname === "/v1/embeddings") {
      return only("POST", "openai", "openai", () => openai(request, url));
    }
    const match = GEMINI_ROUTE.exec(pathname);
    if (match !== null) {
      const route = match[3] === "embedContent" ? "gemini_embed" : "gemini_batch";
      return only("POST", route, "gemini", () => gemini(request, url, match));
    }
    if (pathname === "/healthz") {
      return only("GET", "healthz", "gemini", () =>
        Promise.resolve(
          Response.json({ status: draining ? "draining" : "ok" }, { status: draining ? 503 : 200 }),
        ));
    }
    if (pathname === "/metrics") {
      return only("GET", "metrics", "gemini", () =>
        Promise.resolve(
          new Response(m.render(), {
            headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
          }),
        ));
    }
    const protocol: Protocol = pathname.startsWith("/v1/") && !pathname.includes("/models/")
      ? "openai"
      : "gemini";
    return ["other", protocol, () => {
      throw new HttpError(
        "not_found",
        `Cannot ${method} ${pathname}: embatch serves POST /v1/embeddings, POST /{v1,v1beta}/models/{model}:embedContent and :batchEmbedContents, GET /healthz and GET /metrics`,
      );
    }];
  };

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const [route, protocol, run] = dispatch(request, url);
    let response: Response;
    try {
      response = await run();
    } catch (error) {
      if (error === CLIENT_GONE) {
        response = new Response(null, { status: 499 });
      } else {
        const httpError = toHttpError(error);
        if (httpError.status >= 500) {
          const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          options.onLog?.(
            `embatch: ${request.method} ${url.pathname} ${httpError.status}: ${httpError.message} (${cause})`,
          );
        }
        response = httpError.toResponse(protocol);
      }
    }
    m.requests.inc({ route, code: String(response.status) });
    return response;
  };

  const close = (graceMs = 10_000): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      const allIdle = new Promise<void>((resolve) => {
        idle = resolve;
        if (inFlight === 0) resolve();
      });
      // Requests already accepted finish reading their bodies and queue their
      // texts; then the batches are flushed at once.
      const flushed = new Promise<void>((resolve) => {
        allRead = resolve;
        if (reading === 0) resolve();
      }).then(() => coalescer.close());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const graceOver = new Promise<"grace">((resolve) => {
        timer = setTimeout(() => resolve("grace"), graceMs);
      });
      const outcome = await Promise.race([Promise.all([allIdle, flushed]), graceOver]);
      clearTimeout(timer);
      if (outcome === "grace") { for (const stop of [...onStopCallbacks]) stop(); }
      await allIdle;
    })();
    return closing;
  };

  // defineProperties, not Object.assign: assign would copy the getters' current values.
  return Object.defineProperties(handler, {
    pending: { get: () => coalescer.pending },
    inFlight: { get: () => inFlight },
    metricsText: { value: () => m.render() },
    close: { value: close },
  }) as EmbeddingHandler;
}
