/**
 * When and how long to retry a failed embedding call: which errors are
 * transient, the server's own retry delay (`google.rpc.RetryInfo` or a
 * `Retry-After` header), and exponential backoff with full jitter.
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import { parseDuration } from "../duration.ts";
import { EmbeddingCountError, GeminiApiError } from "../errors.ts";

/** Options for retrying failed calls. */
export interface RetryOptions {
  /**
   * The most calls made for one batch, the first included; `1` disables retries.
   *
   * @default {6}
   */
  maxAttempts?: number;
  /**
   * The longest to keep retrying one batch, from its first call: a retry that
   * would start later is not made. Milliseconds or a string like `"5m"`.
   *
   * @default {"5m"}
   */
  maxRetryTime?: number | string;
  /**
   * The backoff before the first retry; it doubles with each further retry.
   * The actual wait is uniform in `[0, backoff]` (full jitter).
   *
   * @default {"500ms"}
   */
  initialDelay?: number | string;
  /**
   * The cap on the backoff (not on a delay the server asks for).
   *
   * @default {"30s"}
   */
  maxDelay?: number | string;
  /**
   * The source of jitter, uniform in [0, 1): pass a seeded generator for
   * reproducible runs.
   *
   * @default {Math.random}
   */
  random?: () => number;
}

/** {@linkcode RetryOptions} with every default applied and durations in milliseconds. */
export interface RetryPolicy {
  /** The most calls for one batch. */
  maxAttempts: number;
  /** The longest to keep retrying, in milliseconds. */
  maxRetryTime: number;
  /** The first backoff, in milliseconds. */
  initialDelay: number;
  /** The cap on the backoff, in milliseconds. */
  maxDelay: number;
  /** The source of jitter. */
  random: () => number;
}

/**
 * Applies the defaults of {@linkcode RetryOptions} and checks the values.
 *
 * @param options The options to resolve.
 * @returns The complete policy.
 * @throws {RangeError} If `maxAttempts` is not a positive integer or a duration is invalid.
 *
 * @example Usage
 * ```ts
 * import { retryPolicy } from "./retry.ts";
 * import assert from "node:assert/strict";
 *
 * const policy = retryPolicy({ maxAttempts: 3, initialDelay: "1s" });
 * assert.equal(policy.maxAttempts, 3);
 * assert.equal(policy.initialDelay, 1000);
 * assert.equal(policy.maxRetryTime, 300_000);
 * ```
 */
export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const { maxAttempts = 6, random = Math.random } = options;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(
      `Cannot create retry policy: maxAttempts must be a positive integer, received ${maxAttempts}`,
    );
  }
  const duration = (value: number | string, what: string) => {
    try {
      return parseDuration(value, what);
    } catch (error) {
      throw new RangeError(`Cannot create retry policy: ${(error as Error).message}`);
    }
  };
  return {
    maxAttempts,
    maxRetryTime: duration(options.maxRetryTime ?? "5m", "maxRetryTime"),
    initialDelay: duration(options.initialDelay ?? "500ms", "initialDelay"),
    maxDelay: duration(options.maxDelay ?? "30s", "maxDelay"),
    random,
  };
}

/**
 * The backoff before retry number `retry` (1 for the first retry): uniform in
 * `[0, min(maxDelay, initialDelay * 2^(retry - 1))]` ("full jitter", which
 * spreads the retries of many callers that failed together).
 *
 * @param retry Which retry this is, from 1.
 * @param policy The delays and the source of jitter.
 * @returns The delay in milliseconds, rounded to a whole millisecond.
 *
 * @example Usage
 * ```ts
 * import { backoffDelay, retryPolicy } from "./retry.ts";
 * import assert from "node:assert/strict";
 *
 * const policy = retryPolicy({ initialDelay: 100, maxDelay: 1000, random: () => 0.5 });
 * assert.equal(backoffDelay(1, policy), 50);
 * assert.equal(backoffDelay(3, policy), 200);
 * assert.equal(backoffDelay(10, policy), 500);
 * ```
 */
export function backoffDelay(
  retry: number,
  policy: Pick<RetryPolicy, "initialDelay" | "maxDelay" | "random">,
): number {
  const cap = Math.min(policy.maxDelay, policy.initialDelay * 2 ** Math.max(0, retry - 1));
  return Math.round(policy.random() * cap);
}

/** How a failed call is to be treated, as decided by {@linkcode classifyError}. */
export interface ErrorClass {
  /** The per-item error code; see `EmbeddingErrorInit.code`. */
  code: string;
  /** The error's message. */
  message: string;
  /** The HTTP status, when the server answered. */
  status?: number;
  /** Whether calling again may succeed. */
  retryable: boolean;
  /** Whether the server said the quota is exhausted (HTTP 429). */
  rateLimited: boolean;
  /** The delay the server asked for, in milliseconds, when it named one. */
  retryAfter?: number;
}

const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 499, 500, 502, 503, 504]);

/**
 * Decides whether a failed call is worth retrying, and names its error code.
 *
 * Retried: HTTP 408, 429, 499, 500, 502, 503 and 504; a `TimeoutError` (the
 * call ran past its timeout); a `TypeError` (how `fetch` reports a network
 * failure); an {@linkcode EmbeddingCountError} (a malformed answer). Not
 * retried: any other status (400, 401, 403, 404…) and anything else.
 *
 * @param error What the call rejected with.
 * @returns The error's code, status, retryability and server-requested delay.
 *
 * @example Usage
 * ```ts
 * import { classifyError } from "./retry.ts";
 * import { GeminiApiError } from "../errors.ts";
 * import assert from "node:assert/strict";
 *
 * const quota = classifyError(new GeminiApiError({
 *   status: 429,
 *   code: "RESOURCE_EXHAUSTED",
 *   message: "Quota exceeded",
 *   details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "17s" }],
 * }));
 * assert.deepEqual(quota, {
 *   code: "RESOURCE_EXHAUSTED",
 *   message: "Quota exceeded",
 *   status: 429,
 *   retryable: true,
 *   rateLimited: true,
 *   retryAfter: 17_000,
 * });
 * assert.equal(classifyError(new TypeError("error sending request")).code, "NETWORK_ERROR");
 * assert.equal(classifyError(new Error("bug")).retryable, false);
 * ```
 */
export function classifyError(error: unknown): ErrorClass {
  const message = error instanceof Error ? error.message : String(error);
  const retryAfter = retryDelayOf(error);
  const delay = retryAfter === undefined ? {} : { retryAfter };
  if (error instanceof GeminiApiError) {
    return {
      code: error.code === "UNKNOWN" ? `HTTP_${error.status}` : error.code,
      message,
      status: error.status,
      retryable: RETRYABLE_STATUS.has(error.status),
      rateLimited: error.status === 429,
      ...delay,
    };
  }
  const status = statusOf(error);
  if (status !== undefined) {
    return {
      code: `HTTP_${status}`,
      message,
      status,
      retryable: RETRYABLE_STATUS.has(status),
      rateLimited: status === 429,
      ...delay,
    };
  }
  if (error instanceof EmbeddingCountError) {
    return { code: "EMBEDDING_COUNT", message, retryable: true, rateLimited: false };
  }
  if (error instanceof Error && error.name === "TimeoutError") {
    return { code: "TIMEOUT", message, retryable: true, rateLimited: false };
  }
  if (error instanceof TypeError) {
    return { code: "NETWORK_ERROR", message, retryable: true, rateLimited: false };
  }
  return { code: "UNKNOWN", message, retryable: false, rateLimited: false };
}

/**
 * The delay a failed call's answer asks for before retrying, in milliseconds:
 * the `retryDelay` of a `google.rpc.RetryInfo` in a {@linkcode GeminiApiError}'s
 * details (`"17s"`, `"0.5s"`, or `{ seconds, nanos }`), else a `Retry-After`
 * header (seconds or an HTTP date) carried by the error as `headers` or
 * `retryAfter`.
 *
 * @param error What the call rejected with.
 * @returns The delay in milliseconds, or `undefined` when none was given.
 *
 * @example Usage
 * ```ts
 * import { retryDelayOf } from "./retry.ts";
 * import { GeminiApiError } from "../errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = GeminiApiError.fromBody(429, JSON.stringify({
 *   error: {
 *     code: 429,
 *     status: "RESOURCE_EXHAUSTED",
 *     message: "Quota exceeded",
 *     details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "2.5s" }],
 *   },
 * }));
 * assert.equal(retryDelayOf(error), 2500);
 * assert.equal(retryDelayOf(new Error("no delay")), undefined);
 * ```
 */
export function retryDelayOf(error: unknown): number | undefined {
  if (error instanceof GeminiApiError) {
    for (const detail of error.details) {
      if (!isRecord(detail)) continue;
      const type = detail["@type"];
      if (typeof type !== "string" || !type.endsWith("google.rpc.RetryInfo")) continue;
      const ms = parseProtoDuration(detail.retryDelay);
      if (ms !== undefined) return ms;
    }
  }
  if (!isRecord(error)) return undefined;
  const headers = error.headers;
  let header: unknown = error.retryAfter;
  if (headers instanceof Headers) header = headers.get("retry-after") ?? header;
  else if (isRecord(headers)) header = headers["retry-after"] ?? headers["Retry-After"] ?? header;
  return parseRetryAfter(header);
}

/** Parses a protobuf `Duration` in its JSON form ("17s", "0.25s") or as `{ seconds, nanos }`. */
function parseProtoDuration(value: unknown): number | undefined {
  if (typeof value === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(value);
    return match ? Math.round(Number(match[1]) * 1000) : undefined;
  }
  if (isRecord(value)) {
    const seconds = Number(value.seconds ?? 0);
    const nanos = Number(value.nanos ?? 0);
    if (Number.isFinite(seconds) && Number.isFinite(nanos) && seconds >= 0 && nanos >= 0) {
      return Math.round(seconds * 1000 + nanos / 1e6);
    }
  }
  return undefined;
}

/** Parses a `Retry-After` value: delay-seconds, or an HTTP date. */
function parseRetryAfter(value: unknown): number | undefined {
  if (typeof value === "number") return value >= 0 ? value * 1000 : undefined;
  if (typeof value !== "string") return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

function statusOf(error: unknown): number | undefined {
  if (!(error instanceof Error) || !isRecord(error)) return undefined;
  const status = error.status;
  return typeof status === "number" && status >= 400 && status <= 599 ? status : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
