/**
 * A local stand-in for the Gemini embeddings API, faithful enough that the
 * real `@google/genai` SDK can talk to it over loopback HTTP.
 *
 * It serves `POST /{v1|v1beta}/models/{model}:batchEmbedContents`, checks the
 * API key and the body the way Gemini does, and answers with deterministic,
 * L2-normalised vectors ({@linkcode simulatedEmbedding}) or with Gemini's JSON
 * error shape `{"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}`.
 *
 * The work of one call runs in stages, each a function below: route, then
 * authenticate, then parse the batch, then wait out the latency, then embed.
 * Quotas (429 `RESOURCE_EXHAUSTED` with a `RetryInfo`), per-text token limits,
 * fault injection and a latency model are meant to slot in as further options
 * and stages between parsing and embedding; {@linkcode SimulatorHandlerOptions}
 * is the one place options are declared.
 *
 * @example Embedding through the real SDK
 * ```ts
 * import { simulatedEmbedding, startSimulator } from "./simulator.ts";
 * import { GoogleGenAI } from "@google/genai";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const ai = new GoogleGenAI({ apiKey: "any", httpOptions: { baseUrl: simulator.url } });
 * const response = await ai.models.embedContent({
 *   model: "gemini-embedding-001",
 *   contents: [{ role: "user", parts: [{ text: "hello" }] }],
 *   config: { outputDimensionality: 8 },
 * });
 * assert.deepEqual(response.embeddings?.[0]?.values, simulatedEmbedding("hello", 8));
 * ```
 *
 * @module
 */

/** The dimensionality of a vector when the request does not set one. */
const DEFAULT_DIMENSIONS = 3072;
/** The largest `outputDimensionality` Gemini accepts. */
const MAX_DIMENSIONS = 3072;
/** The most requests one `batchEmbedContents` call may carry. */
const MAX_BATCH_SIZE = 100;
/** The model {@linkcode simulatedEmbedding} assumes when given none. */
const DEFAULT_MODEL = "gemini-embedding-001";
const JSON_HEADERS = { "content-type": "application/json; charset=UTF-8" };

/**
 * Gemini's task types, as accepted in a request's `taskType`. The simulator
 * validates them but, unlike Gemini, does not let them change the vector.
 */
const TASK_TYPES: ReadonlySet<string> = new Set([
  "TASK_TYPE_UNSPECIFIED",
  "RETRIEVAL_QUERY",
  "RETRIEVAL_DOCUMENT",
  "SEMANTIC_SIMILARITY",
  "CLASSIFICATION",
  "CLUSTERING",
  "QUESTION_ANSWERING",
  "FACT_VERIFICATION",
  "CODE_RETRIEVAL_QUERY",
]);

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
 * Unlike `gemini-embedding-001`, which normalises only its full 3072-value
 * output, the simulator normalises every size, so that callers can check
 * norms without knowing the size.
 *
 * @param text The text to embed.
 * @param dimensions How many values the vector has.
 * @param model The model name, with or without the `models/` prefix.
 * @returns A vector of `dimensions` values whose L2 norm is 1.
 * @throws {RangeError} If `dimensions` is not a positive integer.
 *
 * @example Deterministic and normalised
 * ```ts
 * import { simulatedEmbedding } from "./simulator.ts";
 * import assert from "node:assert/strict";
 *
 * const vector = simulatedEmbedding("hello", 3);
 * assert.deepEqual(vector, simulatedEmbedding("hello", 3));
 * assert.notDeepEqual(vector, simulatedEmbedding("hello!", 3));
 * const norm = Math.hypot(...vector);
 * assert.ok(Math.abs(norm - 1) < 1e-12);
 * ```
 *
 * @example A shorter vector is a renormalised prefix of a longer one
 * ```ts
 * import { simulatedEmbedding } from "./simulator.ts";
 * import assert from "node:assert/strict";
 *
 * const full = simulatedEmbedding("hello");
 * const short = simulatedEmbedding("hello", 4);
 * const prefix = full.slice(0, 4);
 * const norm = Math.hypot(...prefix);
 * prefix.forEach((value, i) => assert.ok(Math.abs(value / norm - short[i]!) < 1e-12));
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
  const random = mulberry32(fnv1a32(`${bareModel(model)}\u0000${text}`));
  const values = new Array<number>(dimensions);
  let sumOfSquares = 0;
  for (let i = 0; i < dimensions; i++) {
    const value = random() * 2 - 1;
    values[i] = value;
    sumOfSquares += value * value;
  }
  const norm = Math.sqrt(sumOfSquares);
  // A zero vector (one value that is exactly 0) has no direction to keep.
  return norm === 0 ? values : values.map((value) => value / norm);
}

/** One text of a batch, after validation. */
export interface SimulatedRequest {
  /** The text to embed: the request's text parts joined. */
  text: string;
  /** How many values its vector has. */
  dimensions: number;
  /** The request's `taskType`, when it set one. */
  taskType?: string;
  /** The request's `title`, when it set one. */
  title?: string;
}

/** A validated `batchEmbedContents` call, as seen by {@linkcode SimulatorHandlerOptions.onBatch}. */
export interface SimulatedBatch {
  /** The API version from the path, `v1` or `v1beta`. */
  apiVersion: string;
  /** The model from the path, without the `models/` prefix. */
  model: string;
  /** The requests, in the order they arrived. */
  requests: readonly SimulatedRequest[];
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
   * How long to wait, with `setTimeout`, before answering a valid call. A
   * waiting call ends early with `499 CANCELLED` when the client aborts it,
   * and with `503 UNAVAILABLE` when `signal` aborts.
   *
   * @default {0}
   */
  latencyMs?: number;
  /**
   * Called with each valid call once it has been parsed, before the latency
   * wait: a way for tests to see what the client sent and when it arrived.
   * If it throws, the call gets `500 INTERNAL`.
   *
   * @default {undefined}
   */
  onBatch?: (batch: SimulatedBatch) => void;
  /**
   * Marks the server as shutting down: calls waiting out their latency are
   * answered at once with `503 UNAVAILABLE`, as are calls arriving later.
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
  /** Answers sent, by HTTP status code. */
  byStatus: Record<number, number>;
}

/**
 * A request handler for `Deno.serve` (or a direct call in a test) that plays
 * the Gemini embeddings API, with its counters.
 */
export interface SimulatorHandler {
  /**
   * Answers one HTTP request; never rejects.
   *
   * @param request The HTTP request.
   * @returns Gemini's answer.
   */
  (request: Request): Promise<Response>;
  /** Counters since the handler was created; updated as requests are answered. */
  readonly stats: Readonly<SimulatorStats>;
}

/**
 * Creates the simulator's request handler, without a server, so that the
 * protocol can be tested by calling it with a `Request`.
 *
 * @param options Keys, models, latency and hooks.
 * @returns A handler that never rejects: every failure is a Gemini error reply.
 * @throws {RangeError} If `latencyMs` is negative or not finite, or `apiKeys` is empty.
 *
 * @example Calling the handler directly
 * ```ts
 * import { createSimulatorHandler, simulatedEmbedding } from "./simulator.ts";
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
 *   embeddings: [{ values: simulatedEmbedding("hi", 4) }],
 * });
 * assert.deepEqual(handler.stats, { requests: 1, texts: 1, byStatus: { 200: 1 } });
 * ```
 */
export function createSimulatorHandler(options: SimulatorHandlerOptions = {}): SimulatorHandler {
  const { latencyMs = 0, apiKeys, models, onBatch, signal } = options;
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
  const config: Config = {
    latencyMs,
    apiKeys: apiKeys === undefined ? undefined : new Set(apiKeys),
    models: models === undefined ? undefined : new Set(models.map(bareModel)),
    onBatch,
    signal,
  };
  const stats: SimulatorStats = { requests: 0, texts: 0, byStatus: {} };
  const handler = async (request: Request): Promise<Response> => {
    stats.requests++;
    let response: Response;
    let texts = 0;
    try {
      const batch = await parseCall(request, config);
      await waitLatency(request, config);
      response = embed(batch);
      texts = batch.requests.length;
    } catch (error) {
      response = error instanceof ProtocolError
        ? error.toResponse()
        : errorResponse(500, "INTERNAL", "Internal error encountered.");
    }
    stats.texts += texts;
    stats.byStatus[response.status] = (stats.byStatus[response.status] ?? 0) + 1;
    return response;
  };
  return Object.assign(handler, { stats: stats as Readonly<SimulatorStats> });
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
   * Stops the server: calls still waiting out their latency are answered with
   * `503 UNAVAILABLE`, then the listener closes. Calling it again returns the
   * same promise.
   *
   * @returns A promise that resolves once the server has stopped.
   */
  close(): Promise<void>;
}

/**
 * Starts the simulator on `127.0.0.1` with `Deno.serve`, printing nothing.
 *
 * @param options Port, keys, models, latency and hooks.
 * @returns The running simulator.
 * @throws {RangeError} If `port` is not an integer from 0 to 65535, or an
 * option of {@linkcode createSimulatorHandler} is invalid.
 *
 * @example Usage
 * ```ts
 * import { startSimulator } from "./simulator.ts";
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
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
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
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface Config {
  latencyMs: number;
  apiKeys: ReadonlySet<string> | undefined;
  models: ReadonlySet<string> | undefined;
  onBatch: ((batch: SimulatedBatch) => void) | undefined;
  signal: AbortSignal | undefined;
}

/** A Gemini error reply, thrown by a stage and answered by the handler. */
class ProtocolError extends Error {
  constructor(
    readonly status: number,
    readonly rpcStatus: string,
    message: string,
    readonly details?: readonly unknown[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  toResponse(): Response {
    return errorResponse(this.status, this.rpcStatus, this.message, this.details, this.headers);
  }
}

function errorResponse(
  status: number,
  rpcStatus: string,
  message: string,
  details?: readonly unknown[],
  headers?: Record<string, string>,
): Response {
  const error = { code: status, message, status: rpcStatus, ...(details && { details }) };
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

function invalidArgument(message: string): ProtocolError {
  return new ProtocolError(400, "INVALID_ARGUMENT", message);
}

/** Routes, authenticates and validates one call. */
async function parseCall(request: Request, config: Config): Promise<SimulatedBatch> {
  const { apiVersion, model } = route(request);
  authenticate(request, config);
  checkModel(apiVersion, model, config);
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    throw invalidArgument("Invalid JSON payload received. Unexpected token.");
  }
  const batch = { apiVersion, model, requests: parseRequests(body, model, apiVersion) };
  config.onBatch?.(batch);
  return batch;
}

const ROUTE = /^\/(v1|v1beta)\/models\/([^/:]+):batchEmbedContents$/;

function route(request: Request): { apiVersion: string; model: string } {
  const { pathname } = new URL(request.url);
  const match = ROUTE.exec(pathname);
  if (match === null) {
    throw new ProtocolError(
      404,
      "NOT_FOUND",
      `Cannot find ${request.method} ${pathname}: the simulator serves only POST /{v1|v1beta}/models/{model}:batchEmbedContents`,
    );
  }
  if (request.method !== "POST") {
    // Gemini itself answers 404 here; 405 with Allow is the clearer HTTP answer.
    throw new ProtocolError(
      405,
      "METHOD_NOT_ALLOWED",
      `Cannot ${request.method} ${pathname}: batchEmbedContents accepts only POST`,
      undefined,
      { allow: "POST" },
    );
  }
  const [, apiVersion = "", model = ""] = match;
  return { apiVersion, model };
}

function checkModel(apiVersion: string, model: string, config: Config): void {
  if (config.models !== undefined && !config.models.has(model)) {
    throw new ProtocolError(
      404,
      "NOT_FOUND",
      `models/${model} is not found for API version ${apiVersion}, or is not supported for batchEmbedContents. Call ListModels to see the list of available models and their supported methods.`,
    );
  }
}

/**
 * Checks the key as Gemini does: the `x-goog-api-key` header or the `key`
 * query parameter. No key is `403 PERMISSION_DENIED` ("unregistered
 * callers"); a key that is not valid is `400 INVALID_ARGUMENT`, not 401.
 */
function authenticate(request: Request, config: Config): void {
  const key = request.headers.get("x-goog-api-key") ??
    new URL(request.url).searchParams.get("key") ?? "";
  if (key === "") {
    throw new ProtocolError(
      403,
      "PERMISSION_DENIED",
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
  }
  if (config.apiKeys !== undefined && !config.apiKeys.has(key)) {
    throw new ProtocolError(
      400,
      "INVALID_ARGUMENT",
      "API key not valid. Please pass a valid API key.",
      [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "API_KEY_INVALID",
        domain: "googleapis.com",
        metadata: { service: "generativelanguage.googleapis.com" },
      }],
    );
  }
}

/**
 * The fields of one request, by both JSON names that Google's parser accepts
 * (lowerCamelCase and the proto's snake_case), mapped to the proto name.
 */
const REQUEST_FIELDS: Readonly<Record<string, string>> = {
  model: "model",
  content: "content",
  taskType: "task_type",
  task_type: "task_type",
  title: "title",
  outputDimensionality: "output_dimensionality",
  output_dimensionality: "output_dimensionality",
};
/** Part fields Gemini knows but the simulator does not embed. */
const NON_TEXT_PARTS: ReadonlySet<string> = new Set([
  "inlineData",
  "inline_data",
  "fileData",
  "file_data",
  "functionCall",
  "function_call",
  "functionResponse",
  "function_response",
  "executableCode",
  "executable_code",
  "codeExecutionResult",
  "code_execution_result",
]);

function parseRequests(body: unknown, model: string, apiVersion: string): SimulatedRequest[] {
  if (!isRecord(body)) {
    throw invalidArgument("Invalid JSON payload received. Expected an object at the top level.");
  }
  rejectUnknownFields(body, new Set(["requests"]), "");
  const { requests } = body;
  if (requests !== undefined && !Array.isArray(requests)) {
    throw invalidArgument(
      `Invalid value at 'requests' (type.googleapis.com/google.ai.generativelanguage.${apiVersion}.EmbedContentRequest), ${
        JSON.stringify(requests)
      }`,
    );
  }
  if (requests === undefined || requests.length === 0) {
    throw invalidArgument("* BatchEmbedContentsRequest.requests: at least one request is required");
  }
  if (requests.length > MAX_BATCH_SIZE) {
    throw invalidArgument(
      `* BatchEmbedContentsRequest.requests: at most ${MAX_BATCH_SIZE} requests can be in one batch`,
    );
  }
  return requests.map((request, index) => parseRequest(request, index, model, apiVersion));
}

function parseRequest(
  request: unknown,
  index: number,
  model: string,
  apiVersion: string,
): SimulatedRequest {
  const at = `requests[${index}]`;
  const field = `* BatchEmbedContentsRequest.${at}`;
  if (!isRecord(request)) {
    throw invalidArgument(`Invalid value at '${at}', ${JSON.stringify(request)}`);
  }
  rejectUnknownFields(request, new Set(Object.keys(REQUEST_FIELDS)), at);
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request)) fields[REQUEST_FIELDS[name]!] = value;

  if (typeof fields.model !== "string" || !fields.model.startsWith("models/")) {
    throw invalidArgument(`${field}.model: unexpected model name format`);
  }
  if (bareModel(fields.model) !== model) {
    throw invalidArgument(
      `${field}.model: the model of every request must match the model in the URL (models/${model}), received ${fields.model}`,
    );
  }

  const text = parseContent(fields.content, at, field);

  let dimensions = DEFAULT_DIMENSIONS;
  const requested = fields.output_dimensionality;
  if (requested !== undefined) {
    if (typeof requested !== "number" || !Number.isInteger(requested)) {
      throw invalidArgument(
        `Invalid value at '${at}.output_dimensionality' (TYPE_INT32), ${JSON.stringify(requested)}`,
      );
    }
    if (requested < 0 || requested > MAX_DIMENSIONS) {
      throw invalidArgument(
        `${field}.output_dimensionality: must be between 1 and ${MAX_DIMENSIONS}, received ${requested}`,
      );
    }
    // As in proto3, 0 is the unset value: the model's full size.
    if (requested > 0) dimensions = requested;
  }

  const result: SimulatedRequest = { text, dimensions };
  const { task_type: taskType, title } = fields;
  if (taskType !== undefined) {
    if (typeof taskType !== "string" || !TASK_TYPES.has(taskType)) {
      throw invalidArgument(
        `Invalid value at '${at}.task_type' (type.googleapis.com/google.ai.generativelanguage.${apiVersion}.TaskType), ${
          JSON.stringify(taskType)
        }`,
      );
    }
    result.taskType = taskType;
  }
  if (title !== undefined) {
    if (typeof title !== "string") {
      throw invalidArgument(
        `Invalid value at '${at}.title' (TYPE_STRING), ${JSON.stringify(title)}`,
      );
    }
    result.title = title;
  }
  return result;
}

/** Returns the text of a content: its text parts joined, never empty. */
function parseContent(content: unknown, at: string, field: string): string {
  if (content === undefined) {
    throw invalidArgument(`${field}.content: content is required`);
  }
  if (!isRecord(content)) {
    throw invalidArgument(`Invalid value at '${at}.content', ${JSON.stringify(content)}`);
  }
  rejectUnknownFields(content, new Set(["parts", "role"]), `${at}.content`);
  const { parts } = content;
  if (!Array.isArray(parts) || parts.length === 0) {
    throw invalidArgument(`${field}.content.parts: contents.parts must not be empty`);
  }
  let text = "";
  parts.forEach((part: unknown, index) => {
    const partAt = `${at}.content.parts[${index}]`;
    if (!isRecord(part)) {
      throw invalidArgument(`Invalid value at '${partAt}', ${JSON.stringify(part)}`);
    }
    const nonText = Object.keys(part).find((name) => NON_TEXT_PARTS.has(name));
    if (nonText !== undefined) {
      throw invalidArgument(
        `${field}.content.parts[${index}]: the simulator embeds only text parts, received ${nonText}`,
      );
    }
    rejectUnknownFields(part, new Set(["text"]), partAt);
    if (typeof part.text !== "string") {
      throw invalidArgument(
        `${field}.content.parts[${index}].data: required oneof field 'data' must have one initialized field`,
      );
    }
    text += part.text;
  });
  if (text === "") {
    throw invalidArgument(`${field}.content: text must not be empty`);
  }
  return text;
}

function rejectUnknownFields(
  object: Record<string, unknown>,
  known: ReadonlySet<string>,
  at: string,
): void {
  const unknown = Object.keys(object).find((name) => !known.has(name));
  if (unknown !== undefined) {
    const where = at === "" ? "" : ` at '${at}'`;
    throw invalidArgument(
      `Invalid JSON payload received. Unknown name ${
        JSON.stringify(unknown)
      }${where}: Cannot find field.`,
    );
  }
}

/**
 * Waits `latencyMs` with `setTimeout`, unless the client aborts (499
 * `CANCELLED`) or the server stops (503 `UNAVAILABLE`) first. The timer and
 * both listeners are always removed.
 */
async function waitLatency(request: Request, config: Config): Promise<void> {
  const stopping = config.signal;
  const unavailable = () =>
    new ProtocolError(503, "UNAVAILABLE", "The service is currently unavailable.");
  if (stopping?.aborted) throw unavailable();
  // Reading `request.signal` makes Deno.serve print a one-time notice about
  // its legacy abort behaviour, so it is read only when there is a wait to
  // cancel. The listeners are removed before the answer is returned, so the
  // legacy abort-after-success does not matter here.
  if (config.latencyMs === 0) return;
  const check = () => {
    if (stopping?.aborted) throw unavailable();
    if (request.signal.aborted) {
      throw new ProtocolError(499, "CANCELLED", "The operation was cancelled.");
    }
  };
  check();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = () => {};
  try {
    await new Promise<void>((resolve) => {
      onAbort = resolve;
      timer = setTimeout(resolve, config.latencyMs);
      request.signal.addEventListener("abort", onAbort, { once: true });
      stopping?.addEventListener("abort", onAbort, { once: true });
    });
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener("abort", onAbort);
    stopping?.removeEventListener("abort", onAbort);
  }
  check();
}

function embed(batch: SimulatedBatch): Response {
  const embeddings = batch.requests.map(({ text, dimensions }) => ({
    values: simulatedEmbedding(text, dimensions, batch.model),
  }));
  return new Response(JSON.stringify({ embeddings }), { headers: JSON_HEADERS });
}

function bareModel(model: string): string {
  return model.startsWith("models/") ? model.slice("models/".length) : model;
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
