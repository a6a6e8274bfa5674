/**
 * A local stand-in for the Gemini embeddings API, faithful enough that the
 * real `@google/genai` SDK can talk to it over loopback HTTP.
 *
 * It serves `POST /{v1|v1beta}/models/{model}:batchEmbedContents`, checks the
 * API key and the body the way Gemini does, and answers with deterministic
 * float32 vectors, unit length as the model returns them
 * ({@linkcode simulatedEmbedding}), or with Gemini's JSON
 * error shape `{"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}`.
 *
 * The work of one call runs in stages: route, authenticate, parse the batch
 * and check each text against `maxInputTokens` (400), charge the key's
 * per-minute quotas (429 `RESOURCE_EXHAUSTED` with a `RetryInfo`), draw a
 * fault, wait out the latency, then embed (or fail as the fault says).
 * {@linkcode SimulatorHandlerOptions} is the one place options are declared;
 * the protocol stage (routing, keys, validation, error bodies) lives in
 * `protocol.ts`, quotas and token counting in `quota.ts`, faults and the
 * latency model in `faults.ts`, command-line flags in
 * `flags.ts`.
 *
 * @example Embedding through the real SDK
 * ```ts
 * import { simulatedEmbedding, startSimulator } from "./server.ts";
 * import { GoogleGenAI } from "@google/genai";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const ai = new GoogleGenAI({ apiKey: "any", httpOptions: { baseUrl: simulator.url } });
 * const response = await ai.models.embedContent({
 *   model: "gemini-embedding-2",
 *   contents: [{ role: "user", parts: [{ text: "hello" }] }],
 *   config: { outputDimensionality: 8 },
 * });
 * assert.deepEqual(response.embeddings?.[0]?.values, simulatedEmbedding("hello", 8));
 * ```
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import {
  authenticate,
  bareModel,
  DEFAULT_DIMENSIONS,
  errorResponse,
  JSON_HEADERS,
  parseCall,
  ProtocolError,
  requestTokens,
  type SimulatedBatch,
  type SimulatedRequest,
} from "./protocol.ts";
import { modelProfile } from "../gemini/models.ts";
import {
  checkFaults,
  checkMs,
  FaultDice,
  SimulatedConnectionDrop,
  type SimulatedFaultKind,
  type SimulatorFaults,
  type SimulatorLatency,
} from "./faults.ts";
import { BatchSimulator, type BatchSimulatorOptions } from "./batch.ts";
import { apiFloat } from "../internal/float32.ts";
import { QuotaBook, quotaExceeded, type SimulatorKeyStats } from "./quota.ts";

export { countTokens, type SimulatorKeyStats } from "./quota.ts";
export type { SimulatedBatch, SimulatedMedia, SimulatedRequest } from "./protocol.ts";
export { BatchSimulator, type BatchSimulatorOptions, type BatchSimulatorStats } from "./batch.ts";
export {
  GEMINI_LATENCY,
  type LatencySpike,
  SimulatedConnectionDrop,
  type SimulatedFault,
  type SimulatedFaultKind,
  type SimulatorFaults,
  type SimulatorLatency,
} from "./faults.ts";

/** The model {@linkcode simulatedEmbedding} assumes when given none. */
const DEFAULT_MODEL = "gemini-embedding-2";

/**
 * What the unit-length raw values are divided by for a model that does not
 * normalise reduced sizes (gemini-embedding-001): √(3072 / 3), the expected
 * norm of 3072 values uniform in [-1, 1), so a shorter vector looks like a
 * prefix of a unit 3072-value one (norm below 1) without computing it.
 */
const UNNORMALISED_SCALE = Math.sqrt(3072 / 3);

/**
 * Computes the vector the simulator returns for `text`.
 *
 * The vector is a pure function of `model` and `text`: a 32-bit FNV-1a hash of
 * both seeds a mulberry32 generator, whose first `dimensions` outputs, mapped
 * to [-1, 1), are L2-normalised. Because the generator's sequence does not
 * depend on `dimensions`, the values before normalisation form a prefix
 * (Matryoshka-like): a 768-dimensional vector is the 3072-dimensional one cut
 * to 768 values and normalised again.
 *
 * As the real models do, gemini-embedding-2 (and its `-preview`) vectors are
 * unit length at every size, while `gemini-embedding-001` (and unknown
 * models) are unit length only at 3072: a shorter one is the raw prefix
 * divided by √1024, with a norm near 0.5 for 768 values.
 *
 * Each value is then what the API's JSON carries: a float32 (the protobuf
 * field is `repeated float`) written as the shortest decimal that reads back
 * as it, at most 9 significant digits (`-0.022374554`). A unit vector is so
 * unit length within float32 rounding (about 1e-7), not exactly.
 *
 * @param text The text to embed.
 * @param dimensions How many values the vector has.
 * @param model The model name, with or without the `models/` prefix.
 * @returns A vector of `dimensions` values (unit length as the model returns it).
 * @throws {RangeError} If `dimensions` is not a positive integer.
 *
 * @example Deterministic and normalised
 * ```ts
 * import { simulatedEmbedding } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const vector = simulatedEmbedding("hello", 3);
 * assert.deepEqual(vector, simulatedEmbedding("hello", 3));
 * assert.notDeepEqual(vector, simulatedEmbedding("hello!", 3));
 * const norm = Math.hypot(...vector);
 * assert.ok(Math.abs(norm - 1) < 1e-6);
 * // Float32 values, each written in at most 9 significant digits, as the API writes them.
 * assert.ok(vector.every((value) => String(value).replace(/^-?0\.0{0,99}/, "").length <= 9));
 * ```
 *
 * @example A shorter vector is a renormalised prefix of a longer one
 * ```ts
 * import { simulatedEmbedding } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const full = simulatedEmbedding("hello", 3072, "gemini-embedding-2");
 * const short = simulatedEmbedding("hello", 4, "gemini-embedding-2");
 * const prefix = full.slice(0, 4);
 * const norm = Math.hypot(...prefix);
 * prefix.forEach((value, i) => assert.ok(Math.abs(value / norm - short[i]!) < 1e-6));
 * ```
 */
export function simulatedEmbedding(
  text: string,
  dimensions: number = DEFAULT_DIMENSIONS,
  model: string = DEFAULT_MODEL,
): number[] {
  if (!Number.isInteger(dimensions) || dimensions < 1) {
    throw new RangeError(
      `Cannot compute simulated embedding: dimensions must be a positive integer, received ${dimensions}`,
    );
  }
  return vectorFromSeed(fnv1a32(`${bareModel(model)}\u0000${text}`), dimensions, model);
}

/**
 * Computes the vector the simulator returns for one content: its text parts
 * and its media parts' bytes (or file URIs) hashed together, so a content
 * with media gets one deterministic vector however many parts it has. A
 * content of text alone gets {@linkcode simulatedEmbedding} of its text.
 *
 * @param content The text (text parts joined) and media parts, in order.
 * @param dimensions How many values the vector has.
 * @param model The model name.
 * @returns The vector.
 * @throws {RangeError} If `dimensions` is not a positive integer.
 *
 * @example A caption and an image
 * ```ts
 * import { simulatedContentEmbedding, simulatedEmbedding } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const image = { mimeType: "image/png", data: new Uint8Array([137, 80, 78, 71]) };
 * const vector = simulatedContentEmbedding({ text: "a cat", media: [image] }, 8);
 * assert.equal(vector.length, 8);
 * assert.notDeepEqual(vector, simulatedEmbedding("a cat", 8));
 * assert.deepEqual(simulatedContentEmbedding({ text: "a cat" }, 8), simulatedEmbedding("a cat", 8));
 * ```
 */
export function simulatedContentEmbedding(
  content: Pick<SimulatedRequest, "text" | "media">,
  dimensions: number = DEFAULT_DIMENSIONS,
  model: string = DEFAULT_MODEL,
): number[] {
  if (content.media === undefined || content.media.length === 0) {
    return simulatedEmbedding(content.text, dimensions, model);
  }
  checkDimensionsArg(dimensions);
  let key = `${bareModel(model)}\u0000${content.text}`;
  for (const { mimeType, data, fileUri } of content.media) {
    const digest = data === undefined ? `uri:${fileUri}` : `bytes:${fnv1a32Bytes(data)}`;
    key += `\u0001${mimeType}\u0002${digest}`;
  }
  return vectorFromSeed(fnv1a32(key), dimensions, model);
}

function checkDimensionsArg(dimensions: number): void {
  if (!Number.isInteger(dimensions) || dimensions < 1) {
    throw new RangeError(
      `Cannot compute simulated embedding: dimensions must be a positive integer, received ${dimensions}`,
    );
  }
}

/** The seeded generator's first `dimensions` values, scaled and rounded as `model` returns them. */
function vectorFromSeed(seed: number, dimensions: number, model: string): number[] {
  const random = mulberry32(seed);
  const values = new Array<number>(dimensions);
  let sumOfSquares = 0;
  for (let i = 0; i < dimensions; i++) {
    const value = random() * 2 - 1;
    values[i] = value;
    sumOfSquares += value * value;
  }
  const profile = modelProfile(bareModel(model));
  const unnormalised = dimensions < profile.defaultDimensions &&
    !profile.normalizesReducedDimensions;
  // A zero vector (one value that is exactly 0) has no direction to keep.
  const scale = unnormalised ? UNNORMALISED_SCALE : Math.sqrt(sumOfSquares) || 1;
  // As the API sends them: float32 values in their shortest decimal form.
  for (let i = 0; i < dimensions; i++) values[i] = apiFloat(values[i]! / scale);
  return values;
}

/** Options of {@linkcode createSimulatorHandler}. */
export interface SimulatorHandlerOptions {
  /**
   * The API keys that are valid. A request with another key gets Gemini's
   * `400 INVALID_ARGUMENT` "API key not valid". When unset, any non-empty key
   * is valid; a request without a key always gets `403 PERMISSION_DENIED`.
   *
   * @default {undefined}
   */
  apiKeys?: readonly string[];
  /**
   * The models served. A request for another gets Gemini's `404 NOT_FOUND`.
   * When unset, every model name is served.
   *
   * @default {undefined}
   */
  models?: readonly string[];
  /**
   * How long to wait, with `setTimeout`, before answering a valid call: the
   * same as `latency.baseMs`, which wins when both are set. A waiting call
   * ends early with `499 CANCELLED` when the client aborts it, and with
   * `503 UNAVAILABLE` when `signal` aborts.
   *
   * @default {0}
   */
  latencyMs?: number;
  /**
   * The latency model: a call of `n` texts waits `baseMs + perTextMs * n`
   * plus seeded jitter from 0 to `jitterMs`, rounded to whole milliseconds.
   * The default is no wait, so that tests run at once; `GEMINI_LATENCY` is a
   * realistic setting.
   *
   * @default {{ baseMs: latencyMs, perTextMs: 0, jitterMs: 0 }}
   */
  latency?: SimulatorLatency;
  /**
   * Requests per minute allowed per API key, over a sliding 60-second window
   * read from the (fakeable) clock. A call over it gets `429
   * RESOURCE_EXHAUSTED` and does not count. Gemini's free tier allows 100.
   *
   * @default {Infinity}
   */
  rpm?: number;
  /**
   * Input tokens per minute allowed per API key ({@linkcode countTokens} of
   * every text of a call), over the same window as `rpm`. Gemini's free tier
   * allows 30,000.
   *
   * @default {Infinity}
   */
  tpm?: number;
  /**
   * The most tokens one content may have; a call with a longer one gets `400
   * INVALID_ARGUMENT` naming its index. Unset: the model's own limit, 8,192
   * for gemini-embedding-2 models and 2,048 for gemini-embedding-001 (and
   * unknown models). A media part counts 258 tokens. (Vertex AI's
   * `autoTruncate`, which cuts long texts instead, is not part of the Gemini
   * API and is not simulated.)
   *
   * @default {the model's limit}
   */
  maxInputTokens?: number;
  /**
   * Faults to inject, by seeded probability or by script.
   *
   * @default {{}}
   */
  faults?: SimulatorFaults;
  /**
   * Seeds the fault draws and the latency jitter: the same seed and the same
   * calls give the same faults and latencies.
   *
   * @default {0}
   */
  seed?: number;
  /**
   * Called with each call that passed validation (including the token
   * limit), before quotas, faults and the latency wait: a way for tests to
   * see what the client sent and when it arrived, including calls then
   * answered 429. If it throws, the call gets `500 INTERNAL`.
   *
   * @default {undefined}
   */
  onBatch?: (batch: SimulatedBatch) => void;
  /**
   * The Batch API (files, resumable upload, `:asyncBatchEmbedContent` and
   * `batches`): job timing, the enqueued-token cap and faults. Its routes
   * are always served; these options tune them.
   *
   * @default {{}}
   */
  batch?: BatchSimulatorOptions;
  /**
   * Marks the server as shutting down: calls waiting out their latency (or
   * hanging) are answered at once with `503 UNAVAILABLE`, as are calls
   * arriving later.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Counters kept by the simulator since it started. */
export interface SimulatorStats {
  /** HTTP requests received, whatever their outcome. */
  requests: number;
  /** Texts embedded in successful answers. */
  texts: number;
  /** Answers sent, by HTTP status code; dropped connections are not answers. */
  byStatus: Record<number, number>;
  /** Input tokens of the calls admitted by the quotas, all keys together. */
  tokens: number;
  /** Calls answered `429 RESOURCE_EXHAUSTED`. */
  rateLimited: number;
  /** Faults injected, by kind. */
  faults: Record<SimulatedFaultKind, number>;
  /** The most calls one key had admitted in any 60-second window. */
  peakRequestsPerMinute: number;
  /** The most tokens one key had admitted in any 60-second window. */
  peakTokensPerMinute: number;
}

/** Per-call options of a {@linkcode SimulatorHandler}. */
export interface SimulatorCallOptions {
  /**
   * Aborts when the client gives up on the call, ending a latency wait or a
   * hang with `499 CANCELLED`. When unset, `request.signal` is used (read only
   * when the call has to wait). `startSimulator` passes its own stopping
   * signal instead, because reading `request.signal` inside `Deno.serve`
   * makes Deno print a notice about its legacy abort behaviour.
   *
   * @default {request.signal}
   */
  signal?: AbortSignal;
}

/**
 * A request handler (for a direct call in a test, or for `Deno.serve` through
 * {@linkcode startSimulator}) that plays the Gemini embeddings API, with its
 * counters.
 */
export interface SimulatorHandler {
  /**
   * Answers one HTTP request.
   *
   * @param request The HTTP request.
   * @param options Per-call options.
   * @returns Gemini's answer.
   * @throws {SimulatedConnectionDrop} When a `drop` fault says the connection
   * closes without an answer; it never rejects otherwise.
   */
  (request: Request, options?: SimulatorCallOptions): Promise<Response>;
  /** Counters since the handler was created; updated as requests are answered. */
  readonly stats: Readonly<SimulatorStats>;
  /**
   * The counters of one API key.
   *
   * @param apiKey The key, as sent by the client.
   * @returns A copy of its counters, or `undefined` if it made no valid call.
   */
  keyStats(apiKey: string): SimulatorKeyStats | undefined;
  /** The Batch API's files, jobs and counters. */
  readonly batch: BatchSimulator;
}

/**
 * Creates the simulator's request handler, without a server, so that the
 * protocol can be tested by calling it with a `Request`.
 *
 * A call that passes validation is charged to its key's quotas at arrival
 * (`now()`), then gets its fault (if any), then waits its latency (plus any
 * spike), then is answered: `500`/`503` for those faults, `200` with one
 * vector missing for `wrongCount`, a {@linkcode SimulatedConnectionDrop}
 * rejection for `drop`, and otherwise the vectors. Calls answered 429 wait
 * for nothing and draw no fault; calls with a fault do count against quotas.
 *
 * @param options Keys, models, quotas, limits, faults, latency and hooks.
 * @returns The handler.
 * @throws {RangeError} If a number option is out of range (`latencyMs`,
 * `latency.*` negative or not finite; `rpm`, `tpm`, `maxInputTokens` not
 * positive integers; `seed` not an integer; a fault probability outside 0–1
 * or probabilities adding up to more than 1), or `apiKeys` is empty.
 *
 * @example Calling the handler directly
 * ```ts
 * import { createSimulatorHandler, simulatedEmbedding } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const handler = createSimulatorHandler();
 * const response = await handler(
 *   new Request("http://simulator/v1beta/models/gemini-embedding-001:batchEmbedContents", {
 *     method: "POST",
 *     headers: { "x-goog-api-key": "any" },
 *     body: JSON.stringify({
 *       requests: [{
 *         model: "models/gemini-embedding-001",
 *         content: { parts: [{ text: "hi" }] },
 *         outputDimensionality: 4,
 *       }],
 *     }),
 *   }),
 * );
 * assert.equal(response.status, 200);
 * assert.deepEqual(await response.json(), {
 *   // 001 at a reduced size: not unit length, as the real model answers.
 *   embeddings: [{ values: simulatedEmbedding("hi", 4, "gemini-embedding-001") }],
 * });
 * assert.equal(handler.stats.texts, 1);
 * assert.equal(handler.stats.tokens, 1);
 * ```
 *
 * @example A per-minute request quota
 * ```ts
 * import { createSimulatorHandler } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const handler = createSimulatorHandler({ rpm: 1 });
 * const call = () =>
 *   handler(
 *     new Request("http://simulator/v1/models/gemini-embedding-001:batchEmbedContents", {
 *       method: "POST",
 *       headers: { "x-goog-api-key": "any" },
 *       body: JSON.stringify({
 *         requests: [{ model: "models/gemini-embedding-001", content: { parts: [{ text: "x" }] } }],
 *       }),
 *     }),
 *   );
 * assert.equal((await call()).status, 200);
 * const refused = await call();
 * assert.equal(refused.status, 429);
 * const { error } = await refused.json();
 * assert.equal(error.status, "RESOURCE_EXHAUSTED");
 * assert.equal(error.details.at(-1)["@type"], "type.googleapis.com/google.rpc.RetryInfo");
 * assert.equal(handler.stats.rateLimited, 1);
 * ```
 */
export function createSimulatorHandler(options: SimulatorHandlerOptions = {}): SimulatorHandler {
  const config = configure(options);
  const quota = new QuotaBook(config.rpm, config.tpm);
  const dice = new FaultDice(options.faults ?? {}, config.latency, config.seed);
  const stats: SimulatorStats = {
    requests: 0,
    texts: 0,
    byStatus: {},
    tokens: 0,
    rateLimited: 0,
    faults: { error500: 0, error503: 0, latencySpike: 0, hang: 0, drop: 0, wrongCount: 0 },
    peakRequestsPerMinute: 0,
    peakTokensPerMinute: 0,
  };
  const batchApi = new BatchSimulator(options.batch ?? {}, simulatedEmbedding);
  const handler = async (request: Request, call: SimulatorCallOptions = {}): Promise<Response> => {
    stats.requests++;
    let response: Response;
    let texts = 0;
    try {
      if (batchApi.matches(new URL(request.url).pathname)) {
        authenticate(request, config);
        response = await batchApi.handle(request);
        stats.byStatus[response.status] = (stats.byStatus[response.status] ?? 0) + 1;
        return response;
      }
      const { batch, key } = await parseCall(request, config);
      resolveUploads(batch, batchApi);
      const tokens = batch.requests.reduce((sum, request) => sum + requestTokens(request), 0);
      const admission = quota.admit(key, tokens, now());
      if (!admission.ok) {
        stats.rateLimited++;
        const { message, details, headers } = quotaExceeded(admission, config, batch.model);
        throw new ProtocolError(429, "RESOURCE_EXHAUSTED", message, details, headers);
      }
      stats.tokens += tokens;
      stats.peakRequestsPerMinute = quota.peakRequestsPerMinute;
      stats.peakTokensPerMinute = quota.peakTokensPerMinute;
      const fault = dice.next(batch.requests.map(({ text }) => text));
      const kind = typeof fault === "object" ? fault.kind : fault;
      if (kind !== undefined) stats.faults[kind]++;
      const clientSignal = () => call.signal ?? request.signal;
      if (fault === "hang") await wait(Infinity, clientSignal, config.signal);
      const spikeMs = typeof fault === "object" ? fault.ms : 0;
      await wait(dice.latencyMs(batch.requests.length) + spikeMs, clientSignal, config.signal);
      switch (fault) {
        case "drop":
          throw new SimulatedConnectionDrop();
        case "error500":
          throw new ProtocolError(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
          );
        case "error503":
          throw new ProtocolError(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
          );
      }
      response = embed(batch, fault === "wrongCount");
      texts = batch.requests.length - (fault === "wrongCount" ? 1 : 0);
    } catch (error) {
      if (error instanceof SimulatedConnectionDrop) throw error;
      response = error instanceof ProtocolError
        ? error.toResponse()
        : errorResponse(500, "INTERNAL", "Internal error encountered.");
    }
    stats.texts += texts;
    stats.byStatus[response.status] = (stats.byStatus[response.status] ?? 0) + 1;
    return response;
  };
  return Object.assign(handler, {
    stats: stats as Readonly<SimulatorStats>,
    keyStats: (apiKey: string) => quota.stats(apiKey),
    batch: batchApi,
  });
}

/** Options of {@linkcode startSimulator}. */
export interface SimulatorOptions extends SimulatorHandlerOptions {
  /**
   * The port to listen on, on 127.0.0.1; `0` picks a free one.
   *
   * @default {0}
   */
  port?: number;
}

/** A running simulator. Close it, or declare it with `await using`. */
export interface Simulator extends AsyncDisposable {
  /**
   * The base URL, such as `http://127.0.0.1:40123`, to pass as the SDK's
   * `httpOptions.baseUrl` or the `GOOGLE_GEMINI_BASE_URL` environment variable.
   */
  readonly url: string;
  /** Counters since the simulator started. */
  readonly stats: Readonly<SimulatorStats>;
  /**
   * The counters of one API key.
   *
   * @param apiKey The key, as sent by the client.
   * @returns A copy of its counters, or `undefined` if it made no valid call.
   */
  keyStats(apiKey: string): SimulatorKeyStats | undefined;
  /** The Batch API's files, jobs and counters. */
  readonly batch: BatchSimulator;
  /**
   * Stops the server: calls still waiting out their latency, or hanging, are
   * answered with `503 UNAVAILABLE`, then the listener closes. Calling it
   * again returns the same promise.
   *
   * @returns A promise that resolves once the server has stopped.
   */
  close(): Promise<void>;
}

/**
 * Starts the simulator on `127.0.0.1` with `Deno.serve`, printing nothing.
 *
 * Over HTTP the simulator does not read `request.signal` (Deno would print a
 * notice about its legacy abort behaviour), so it does not see a client give
 * up: a call the client aborted still runs out its latency, and a hung call
 * waits for {@linkcode Simulator.close}. A `drop` fault sends the headers of
 * a `200` answer declaring a body, then ends the connection without one:
 * `fetch` resolves and reading the body rejects with `TypeError: error
 * reading a body from connection`, which the `@google/genai` SDK passes on
 * as is.
 *
 * @param options Port, keys, models, quotas, faults, latency and hooks.
 * @returns The running simulator.
 * @throws {RangeError} If `port` is not an integer from 0 to 65535, or an
 * option of {@linkcode createSimulatorHandler} is invalid.
 *
 * @example Usage
 * ```ts
 * import { startSimulator } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const simulator = startSimulator({ apiKeys: ["secret"] });
 * try {
 *   const response = await fetch(
 *     `${simulator.url}/v1beta/models/gemini-embedding-001:batchEmbedContents`,
 *     { method: "POST", body: "{}" },
 *   );
 *   assert.equal(response.status, 403);
 *   assert.equal((await response.json()).error.status, "PERMISSION_DENIED");
 * } finally {
 *   await simulator.close();
 * }
 * ```
 */
export function startSimulator(options: SimulatorOptions = {}): Simulator {
  const { port = 0, signal, ...handlerOptions } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot start simulator: port must be an integer from 0 to 65535, received ${port}`,
    );
  }
  const stopping = new AbortController();
  const handler = createSimulatorHandler({
    ...handlerOptions,
    signal: signal === undefined ? stopping.signal : AbortSignal.any([signal, stopping.signal]),
  });
  const serve = async (request: Request): Promise<Response> => {
    try {
      return await handler(request, { signal: stopping.signal });
    } catch (error) {
      if (!(error instanceof SimulatedConnectionDrop)) throw error;
      // Deno.serve cannot close a connection before answering, and an erroring
      // body stream makes it log the error; a body shorter than its declared
      // length ends the connection quietly, and the client fails to read it.
      return new Response(new ReadableStream({ start: (controller) => controller.close() }), {
        headers: { ...JSON_HEADERS, "content-length": "64" },
      });
    }
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, serve);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closed === undefined) {
      signal?.removeEventListener("abort", close);
      stopping.abort();
      closed = server.shutdown();
    }
    return closed;
  };
  signal?.addEventListener("abort", close, { once: true });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    stats: handler.stats,
    keyStats: handler.keyStats,
    batch: handler.batch,
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface Config {
  latency: Required<SimulatorLatency>;
  rpm: number;
  tpm: number;
  maxInputTokens: number | undefined;
  seed: number;
  apiKeys: ReadonlySet<string> | undefined;
  models: ReadonlySet<string> | undefined;
  onBatch: ((batch: SimulatedBatch) => void) | undefined;
  signal: AbortSignal | undefined;
}

/** Validates the options and fills in the defaults. */
function configure(options: SimulatorHandlerOptions): Config {
  const { latencyMs = 0, apiKeys, models, onBatch, signal, latency = {} } = options;
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    throw new RangeError(
      `Cannot create simulator: latencyMs must be a non-negative finite number, received ${latencyMs}`,
    );
  }
  if (apiKeys !== undefined && apiKeys.length === 0) {
    throw new RangeError(
      "Cannot create simulator: apiKeys must list at least one key, received an empty list",
    );
  }
  const positive = (name: string, value: number | undefined, fallback: number) => {
    if (value === undefined || value === Infinity && fallback === Infinity) return fallback;
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot create simulator: ${name} must be a positive integer, received ${value}`,
      );
    }
    return value;
  };
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) {
    throw new RangeError(`Cannot create simulator: seed must be an integer, received ${seed}`);
  }
  checkFaults(options.faults ?? {});
  return {
    latency: {
      baseMs: checkMs("latency.baseMs", latency.baseMs ?? latencyMs),
      perTextMs: checkMs("latency.perTextMs", latency.perTextMs ?? 0),
      jitterMs: checkMs("latency.jitterMs", latency.jitterMs ?? 0),
    },
    rpm: positive("rpm", options.rpm, Infinity),
    tpm: positive("tpm", options.tpm, Infinity),
    maxInputTokens: options.maxInputTokens === undefined
      ? undefined
      : positive("maxInputTokens", options.maxInputTokens, 0),
    seed,
    apiKeys: apiKeys === undefined ? undefined : new Set(apiKeys),
    models: models === undefined ? undefined : new Set(models.map(bareModel)),
    onBatch,
    signal,
  };
}

/**
 * Waits `ms` with `setTimeout` (forever, with no timer, when `ms` is
 * `Infinity`), unless the client aborts (499 `CANCELLED`) or the server stops
 * (503 `UNAVAILABLE`) first. The timer and both listeners are always removed.
 * The client's signal is asked for only when there is a wait, because reading
 * `request.signal` inside `Deno.serve` prints a notice.
 */
async function wait(
  ms: number,
  clientSignal: () => AbortSignal,
  stopping: AbortSignal | undefined,
): Promise<void> {
  const unavailable = () =>
    new ProtocolError(503, "UNAVAILABLE", "The service is currently unavailable.");
  if (stopping?.aborted) throw unavailable();
  if (ms === 0) return;
  const client = clientSignal();
  const check = () => {
    if (stopping?.aborted) throw unavailable();
    if (client.aborted) {
      throw new ProtocolError(499, "CANCELLED", "The operation was cancelled.");
    }
  };
  check();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = () => {};
  try {
    await new Promise<void>((resolve) => {
      onAbort = resolve;
      if (ms !== Infinity) timer = setTimeout(resolve, ms);
      client.addEventListener("abort", onAbort, { once: true });
      stopping?.addEventListener("abort", onAbort, { once: true });
    });
  } finally {
    clearTimeout(timer);
    client.removeEventListener("abort", onAbort);
    stopping?.removeEventListener("abort", onAbort);
  }
  check();
}

/**
 * Replaces each `fileData` part's URI with the uploaded file's bytes, so an
 * uploaded file embeds as the same bytes inline would; a URI of no uploaded
 * file is Gemini's 403 for a file that does not exist.
 */
function resolveUploads(batch: SimulatedBatch, files: BatchSimulator): void {
  for (const request of batch.requests) {
    for (const media of request.media ?? []) {
      if (media.fileUri === undefined) continue;
      const file = files.uploadedFile(media.fileUri);
      if (file === undefined) {
        const id = media.fileUri.slice(media.fileUri.lastIndexOf("/") + 1);
        throw new ProtocolError(
          403,
          "PERMISSION_DENIED",
          `You do not have permission to access the File ${id} or it may not exist.`,
        );
      }
      media.data = file.bytes;
    }
  }
}

/** Answers with the vectors, without the last one when `wrongCount`. */
function embed(batch: SimulatedBatch, wrongCount: boolean): Response {
  const requests = wrongCount ? batch.requests.slice(0, -1) : batch.requests;
  const embeddings = requests.map((request) => ({
    values: simulatedContentEmbedding(request, request.dimensions, batch.model),
  }));
  return new Response(JSON.stringify({ embeddings }), { headers: JSON_HEADERS });
}

/** 32-bit FNV-1a over UTF-16 code units, finished with murmur3's fmix32. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The mulberry32 generator: uniform numbers in [0, 1) from a 32-bit seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit FNV-1a over bytes, finished like {@linkcode fnv1a32}, as 8 hex digits. */
function fnv1a32Bytes(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return (hash >>> 0).toString(16).padStart(8, "0");
}
