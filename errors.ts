/**
 * The error classes embatch throws for conditions a caller is expected to
 * catch, and {@linkcode redactSecret}, which every message built from a
 * server's reply passes through so that an API key never reaches a log.
 *
 * @module
 */

/** What replaces a secret in text passed through {@linkcode redactSecret}. */
const REDACTED = "[REDACTED]";

/**
 * Secrets at least this long are redacted wherever they occur; shorter ones
 * only where they stand as a whole token, so that a one-letter test key does
 * not turn "tokens" into "to[REDACTED]ens". (A real Gemini key is 39 characters.)
 */
const MIN_INFIX_SECRET = 6;

/**
 * Replaces occurrences of `secret` in `text` with `[REDACTED]`.
 *
 * A secret of 6 characters or more is replaced wherever it occurs, even
 * inside a longer word or URL. A shorter one cannot be a real API key and
 * would match inside ordinary words, so it is replaced only where it stands
 * as a whole token (not next to a letter, digit, `_` or `-`), which is where
 * a server would echo a key (`key=abc`, `API key abc not valid`). An empty or
 * missing secret leaves the text unchanged.
 *
 * @param text The text that may contain the secret.
 * @param secret The secret to remove, such as an API key.
 * @returns `text` with the secret replaced.
 *
 * @example Usage
 * ```ts
 * import { redactSecret } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   redactSecret("key=AIzaSyExample123&x=AIzaSyExample123", "AIzaSyExample123"),
 *   "key=[REDACTED]&x=[REDACTED]",
 * );
 * assert.equal(redactSecret("too many tokens; key=t", "t"), "too many tokens; key=[REDACTED]");
 * assert.equal(redactSecret("nothing to hide", undefined), "nothing to hide");
 * ```
 */
export function redactSecret(text: string, secret: string | undefined): string {
  if (secret === undefined || secret === "") return text;
  if (secret.length >= MIN_INFIX_SECRET) return text.replaceAll(secret, REDACTED);
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return text.replace(new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`, "g"), REDACTED);
}

/**
 * Thrown when a `GeminiEmbedder` is created without an API key and
 * none is set in the environment.
 *
 * @example Usage
 * ```ts
 * import { MissingApiKeyError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new MissingApiKeyError();
 * assert.equal(error.name, "MissingApiKeyError");
 * assert.match(error.message, /GEMINI_API_KEY/);
 * ```
 */
export class MissingApiKeyError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong and how to fix it.
   * @param options The standard error options, such as `cause`.
   */
  constructor(
    message =
      "Cannot create Gemini client: no API key, pass the apiKey option or set the GEMINI_API_KEY or GOOGLE_API_KEY environment variable",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "MissingApiKeyError";
  }
}

/**
 * Thrown when an embedding service answers with a different number of usable
 * vectors than texts it was sent. The whole batch is rejected, because a
 * vector that cannot be matched to its text must never be returned.
 *
 * @example Usage
 * ```ts
 * import { EmbeddingCountError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new EmbeddingCountError(3, 2);
 * assert.equal(error.name, "EmbeddingCountError");
 * assert.equal(error.expected, 3);
 * assert.equal(error.received, 2);
 * assert.equal(error.message, "Cannot embed texts: expected 3 embeddings with values, received 2");
 * ```
 */
export class EmbeddingCountError extends Error {
  /** How many vectors were expected: one per text sent. */
  readonly expected: number;
  /** How many usable vectors (embeddings with `values`) came back. */
  readonly received: number;

  /**
   * Creates the error.
   *
   * @param expected How many vectors were expected.
   * @param received How many usable vectors came back.
   * @param options The standard error options, such as `cause`.
   */
  constructor(expected: number, received: number, options?: ErrorOptions) {
    super(
      `Cannot embed texts: expected ${expected} embeddings with values, received ${received}`,
      options,
    );
    this.name = "EmbeddingCountError";
    this.expected = expected;
    this.received = received;
  }
}

/** The fields of a {@linkcode GeminiApiError}, as parsed from a reply. */
export interface GeminiApiErrorInit {
  /** The HTTP status code, such as `429`. */
  status: number;
  /** Gemini's status string, such as `"RESOURCE_EXHAUSTED"`. */
  code: string;
  /** The human-readable message from the error body. */
  message: string;
  /**
   * The `error.details` array from the body (where, for example, a
   * `google.rpc.RetryInfo` says how long to wait).
   *
   * @default {[]}
   */
  details?: readonly unknown[];
}

/**
 * Thrown when the Gemini API answers with an error status.
 *
 * Gemini's error bodies look like
 * `{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED","details":[...]}}`;
 * {@linkcode GeminiApiError.fromBody} turns such a body into this error.
 *
 * @example Usage
 * ```ts
 * import { GeminiApiError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = GeminiApiError.fromBody(
 *   400,
 *   '{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}',
 * );
 * assert.equal(error.name, "GeminiApiError");
 * assert.equal(error.status, 400);
 * assert.equal(error.code, "INVALID_ARGUMENT");
 * assert.equal(error.message, "API key not valid.");
 * assert.deepEqual(error.details, []);
 * ```
 */
export class GeminiApiError extends Error {
  /** The HTTP status code, such as `429`. */
  readonly status: number;
  /** Gemini's status string, such as `"RESOURCE_EXHAUSTED"`, or `"UNKNOWN"`. */
  readonly code: string;
  /** The `error.details` array from the body; empty when there was none. */
  readonly details: readonly unknown[];

  /**
   * Creates the error.
   *
   * @param init The status, code, message and details.
   * @param options The standard error options, such as `cause`.
   */
  constructor(init: GeminiApiErrorInit, options?: ErrorOptions) {
    super(init.message, options);
    this.name = "GeminiApiError";
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
  }

  /**
   * Builds the error from an HTTP status and a response body.
   *
   * A body that is not Gemini's JSON error shape is kept whole as the message,
   * with code `"UNKNOWN"`. Redact secrets from `body` before calling this.
   *
   * @param status The HTTP status code.
   * @param body The response body, normally Gemini's JSON error object.
   * @param options The standard error options, such as `cause`.
   * @returns The parsed error.
   *
   * @example Reading the retry delay from the details
   * ```ts
   * import { GeminiApiError } from "./errors.ts";
   * import assert from "node:assert/strict";
   *
   * const error = GeminiApiError.fromBody(429, JSON.stringify({
   *   error: {
   *     code: 429,
   *     message: "Resource has been exhausted",
   *     status: "RESOURCE_EXHAUSTED",
   *     details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" }],
   *   },
   * }));
   * assert.equal(error.code, "RESOURCE_EXHAUSTED");
   * assert.deepEqual(error.details, [
   *   { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7s" },
   * ]);
   * ```
   *
   * @example A body that is not JSON
   * ```ts
   * import { GeminiApiError } from "./errors.ts";
   * import assert from "node:assert/strict";
   *
   * const error = GeminiApiError.fromBody(502, "Bad Gateway");
   * assert.equal(error.code, "UNKNOWN");
   * assert.equal(error.message, "Bad Gateway");
   * ```
   */
  static fromBody(status: number, body: string, options?: ErrorOptions): GeminiApiError {
    const error = parseErrorObject(body);
    const message = typeof error?.message === "string" && error.message !== ""
      ? error.message
      : body;
    // The SDK fills `status` with the HTTP status text ("Bad Gateway") when the
    // body is not JSON; only an RPC code name such as INVALID_ARGUMENT is kept.
    const code = typeof error?.status === "string" && /^[A-Z][A-Z_]*$/.test(error.status)
      ? error.status
      : "UNKNOWN";
    const details = Array.isArray(error?.details) ? error.details : [];
    return new GeminiApiError({ status, code, message, details }, options);
  }
}

/** Returns the `error` object of a Gemini error body, if the body has one. */
function parseErrorObject(body: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || !isRecord(parsed.error)) return undefined;
  return parsed.error;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The fields of an {@linkcode EmbeddingError}. */
export interface EmbeddingErrorInit {
  /**
   * Why the input has no vector: Gemini's status string for an API error
   * (such as `"INVALID_ARGUMENT"` or `"RESOURCE_EXHAUSTED"`), or one of
   * embatch's own: `"TOKEN_LIMIT"` (over the per-text limit, not sent),
   * `"EMPTY_TEXT"` (not sent), `"TIMEOUT"` (the call exceeded `callTimeout`),
   * `"NETWORK_ERROR"`, `"EMBEDDING_COUNT"` (the answer had the wrong number
   * of vectors), `"UNKNOWN"`.
   */
  code: string;
  /** What went wrong, for people. */
  message: string;
  /**
   * The HTTP status of the last answer, when there was one.
   *
   * @default {undefined}
   */
  status?: number;
  /** How many calls carried the input (0 when it was never sent). */
  attempts: number;
}

/**
 * The error of one input that got no vector: the `error` of a failed
 * per-item result, and what `EmbeddingBatcher.embed` rejects with.
 *
 * @example Usage
 * ```ts
 * import { EmbeddingError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new EmbeddingError({ code: "TOKEN_LIMIT", message: "too long", attempts: 0 });
 * assert.equal(error.name, "EmbeddingError");
 * assert.equal(error.code, "TOKEN_LIMIT");
 * assert.equal(error.status, undefined);
 * ```
 */
export class EmbeddingError extends Error {
  /** Why the input has no vector; see {@linkcode EmbeddingErrorInit.code}. */
  readonly code: string;
  /** The HTTP status of the last answer, when there was one. */
  readonly status?: number;
  /** How many calls carried the input (0 when it was never sent). */
  readonly attempts: number;

  /**
   * Creates the error.
   *
   * @param init The code, message, status and attempts.
   * @param options The standard error options, such as `cause`.
   */
  constructor(init: EmbeddingErrorInit, options?: ErrorOptions) {
    super(init.message, options);
    this.name = "EmbeddingError";
    this.code = init.code;
    if (init.status !== undefined) this.status = init.status;
    this.attempts = init.attempts;
  }
}

/**
 * Thrown by `EmbeddingBatcher.embed` once the batcher has been closed.
 *
 * @example Usage
 * ```ts
 * import { EmbeddingBatcherClosedError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new EmbeddingBatcherClosedError();
 * assert.equal(error.name, "EmbeddingBatcherClosedError");
 * assert.match(error.message, /closed/);
 * ```
 */
export class EmbeddingBatcherClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param options The standard error options, such as `cause`.
   */
  constructor(options?: ErrorOptions) {
    super("Cannot embed text: the embedding batcher is closed", options);
    this.name = "EmbeddingBatcherClosedError";
  }
}

/** The fields of a {@linkcode CircuitOpenError}. */
export interface CircuitOpenErrorInit {
  /**
   * Why the run stopped: `"unreachable"` when no call had succeeded yet,
   * `"outage"` when calls had succeeded and then failed for longer than the
   * allowed outage.
   */
  kind: "unreachable" | "outage";
  /** The host the calls went to, when known (`127.0.0.1:8080`, `generativelanguage.googleapis.com`). */
  host: string | undefined;
  /** What the last failure was, for people: `connection refused`, `dns error`, `no answer within 30s`. */
  reason: string;
  /** How many calls failed in a row. */
  failures: number;
  /** How long the calls had been failing, in milliseconds. */
  outageMs: number;
}

/**
 * Thrown (by `ResilientEmbedder.embedEach`, and so by `runPipeline` and
 * `EmbeddingBatcher.embed`) when the circuit breaker stops all calls because
 * every call would fail the same way: the service cannot be reached at all,
 * or an outage outlasted `maxOutage`. Inputs not yet embedded are simply not
 * done; nothing is recorded for them.
 *
 * @example Usage
 * ```ts
 * import { CircuitOpenError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new CircuitOpenError({
 *   kind: "unreachable",
 *   host: "127.0.0.1:9",
 *   reason: "connection refused",
 *   failures: 3,
 *   outageMs: 1200,
 * });
 * assert.equal(error.name, "CircuitOpenError");
 * assert.equal(
 *   error.message,
 *   "Cannot reach 127.0.0.1:9: connection refused (3 calls failed in a row, none had succeeded)",
 * );
 * ```
 */
export class CircuitOpenError extends Error {
  /** `"unreachable"` (no call ever succeeded) or `"outage"` (calls failed for longer than allowed). */
  readonly kind: "unreachable" | "outage";
  /** The host the calls went to, when known. */
  readonly host: string | undefined;
  /** What the last failure was, for people. */
  readonly reason: string;
  /** How many calls failed in a row. */
  readonly failures: number;
  /** How long the calls had been failing, in milliseconds. */
  readonly outageMs: number;

  /**
   * Creates the error.
   *
   * @param init Why, where, how many failures and for how long.
   * @param options The standard error options, such as `cause`.
   */
  constructor(init: CircuitOpenErrorInit, options?: ErrorOptions) {
    const where = init.host ?? "the embedding service";
    const detail = init.kind === "unreachable"
      ? `${init.failures} calls failed in a row, none had succeeded`
      : `calls failed for ${formatSeconds(init.outageMs)} after earlier calls had succeeded`;
    super(`Cannot reach ${where}: ${init.reason} (${detail})`, options);
    this.name = "CircuitOpenError";
    this.kind = init.kind;
    this.host = init.host;
    this.reason = init.reason;
    this.failures = init.failures;
    this.outageMs = init.outageMs;
  }
}

/** `1.5s`, `42s`, `5m 0s`: a duration for messages. */
function formatSeconds(ms: number): string {
  const seconds = Math.round(ms / 100) / 10;
  if (seconds < 60) return `${seconds}s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}m ${whole % 60}s`;
}
