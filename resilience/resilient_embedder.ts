/**
 * Turns a batch of texts into one result per text — its vector or its own
 * error — within Gemini's limits: texts checked against the per-text token
 * limit, calls split to 100 texts, requests and tokens per minute held under
 * quota, transient failures retried, and a rejected batch bisected so that
 * one bad text does not fail the others.
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import { AdaptiveLimit } from "./_adaptive_limit.ts";
import type { BatchReason } from "../batcher.ts";
import { parseDuration } from "../duration.ts";
import { type Embedder, type EmbedInput, inputText } from "../embedder.ts";
import { EmbeddingCountError, EmbeddingError, GeminiApiError } from "../errors.ts";
import { type CallRecord, EmbeddingMetrics } from "../metrics.ts";
import { CircuitBreaker, type CircuitBreakerOptions } from "./circuit_breaker.ts";
import { QuotaLimiter } from "./quota_limiter.ts";
import {
  backoffDelay,
  classifyError,
  type ErrorClass,
  type RetryOptions,
  type RetryPolicy,
  retryPolicy,
} from "./retry.ts";
import { estimateTokens, MAX_INPUT_TOKENS, truncateToTokens } from "./tokens.ts";
import { sleep } from "../internal/sleep.ts";

/**
 * The outcome for one text: its vector, or why it has none. The absent field
 * of each variant is typed `undefined`, so `({ embedding }) => …` destructures.
 */
export type EmbeddingResult =
  | {
    /** The text got its vector. */
    ok: true;
    /** The vector. */
    embedding: number[];
    /** Whether the text was cut to fit the per-text token limit (`truncate: true`). */
    truncated: boolean;
    /** Absent on success. */
    error?: undefined;
  }
  | {
    /** The text has no vector. */
    ok: false;
    /** Why, with the code, HTTP status and attempts. */
    error: EmbeddingError;
    /** Absent on failure. */
    embedding?: undefined;
    /** Absent on failure. */
    truncated?: undefined;
  };

/** 20 MiB: Google advises the Files API above this request size. */
const DEFAULT_MAX_REQUEST_BYTES = 20 * 1024 * 1024;

/** The margin added to the quota window, for network delay between us and the server. */
const QUOTA_MARGIN_MS = 500;

/**
 * The reason a settled call's signal is aborted with: the default reason,
 * made once (a `DOMException` per call costs a stack trace each).
 */
const SETTLED = new DOMException("The signal has been aborted", "AbortError");

/**
 * How embedding calls are made: concurrency, quota, retries, limits and
 * hooks. Shared by {@linkcode ResilientEmbedder}, `runPipeline` and
 * `EmbeddingBatcher`.
 */
export interface ResilienceOptions {
  /**
   * The most calls in flight at once. After a 429 it is halved, then grows
   * back by one per that many successful calls.
   *
   * @default {4}
   */
  concurrency?: number;
  /**
   * The most requests started per minute (free tier: 100); unlimited when unset.
   *
   * @default {Infinity}
   */
  rpm?: number;
  /**
   * The most estimated tokens sent per minute (free tier: 30,000); unlimited when unset.
   *
   * @default {Infinity}
   */
  tpm?: number;
  /**
   * A limiter to share with other embedders that spend the same quota; `rpm`
   * and `tpm` are then ignored.
   *
   * @default {a new limiter from rpm and tpm, over a 60.5 s window}
   */
  limiter?: QuotaLimiter;
  /**
   * When and how to retry failed calls.
   *
   * @default {{}}
   */
  retry?: RetryOptions;
  /**
   * The most estimated tokens per input (see `estimateTokens`), counting
   * what the embedder adds (a task instruction, media: its `inputTokens`); a
   * longer input gets a `TOKEN_LIMIT` error result without being sent, or has
   * its text cut when `truncate` is set.
   *
   * @default {the embedder's maxInputTokens, else 2048}
   */
  maxInputTokens?: number;
  /**
   * Cut texts over `maxInputTokens` (on a grapheme boundary) instead of failing them.
   *
   * @default {false}
   */
  truncate?: boolean;
  /**
   * The most texts per call; larger batches are split.
   *
   * @default {100}
   */
  maxTextsPerCall?: number;
  /**
   * The most estimated request bytes per call (text as UTF-8, media as
   * base64); calls are split to stay under it. One input always goes, even
   * when larger on its own.
   *
   * @default {20971520}
   */
  maxRequestBytes?: number;
  /**
   * How long one request may take before it is aborted and retried (as a
   * `TIMEOUT`): milliseconds or a string like `"30s"`; `Infinity` for never.
   *
   * @default {"60s"}
   */
  callTimeout?: number | string;
  /**
   * The run-wide circuit breaker: a breaker to share, options for a new one,
   * or `false` for none. Before any call has succeeded, a few network errors
   * or timeouts in a row stop every call with a `CircuitOpenError`; after
   * calls have succeeded, such failures are waited out (without spending
   * attempts) for up to its `maxOutage`.
   *
   * @default {a new CircuitBreaker: failFast 3, maxOutage "5m"}
   */
  circuitBreaker?: CircuitBreaker | CircuitBreakerOptions | false;
  /**
   * Called once per logical call, when it has succeeded or given up.
   *
   * @default {undefined}
   */
  onCall?: (record: CallRecord) => void;
  /**
   * Where to count calls; read it for progress.
   *
   * @default {a new EmbeddingMetrics}
   */
  metrics?: EmbeddingMetrics;
}

/** Options for {@linkcode ResilientEmbedder.embedEach}. */
export interface EmbedEachOptions {
  /** Cancels every call: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** The batch index to put in the call records. */
  batch?: number;
  /** The batch's emit reason to put in the call records. */
  reason?: BatchReason;
}

interface Entry {
  index: number;
  /** The input as sent (after any truncation). */
  input: EmbedInput;
  tokens: number;
  /** Its estimated share of the request body. */
  bytes: number;
}

type CallOutcome =
  | { ok: true; vectors: number[][]; attempts: number }
  | { ok: false; error: unknown; class: ErrorClass; attempts: number };

/**
 * Wraps an {@linkcode Embedder} with everything a production run needs, and
 * answers with one {@linkcode EmbeddingResult} per text, in order:
 *
 * 1. Each text is checked: an empty text fails (`EMPTY_TEXT`); one whose
 *    `estimateTokens` exceeds `maxInputTokens` fails (`TOKEN_LIMIT`) or is
 *    truncated. Neither is sent.
 * 2. The rest are split into calls of at most `maxTextsPerCall` texts and
 *    `tpm` tokens.
 * 3. Each request waits for a slot (at most `concurrency` in flight) and for
 *    the quota limiter, then runs under `callTimeout`.
 * 4. A transient failure (429, 5xx, timeout, network error, wrong vector
 *    count) is retried after the server's `RetryInfo` delay or an
 *    exponential backoff with full jitter. A 429 also pauses every other call
 *    for that delay and halves the concurrency.
 * 5. A 400 on a call of several texts is narrowed down: the text the error
 *    names (`requests[i]`), else each half in turn, so only the bad texts fail.
 *
 * 6. Network errors and timeouts are also counted run-wide by a
 *    {@linkcode CircuitBreaker}: before any call has succeeded a few in a row
 *    stop every call with a `CircuitOpenError`; afterwards an outage is
 *    retried with backoff, without spending attempts, for up to `maxOutage`.
 *
 * It rejects only when the signal aborts or the circuit breaker opens.
 *
 * @example Usage
 * ```ts
 * import { ResilientEmbedder } from "./resilient_embedder.ts";
 * import { type Embedder, type EmbedInput, inputText } from "../embedder.ts";
 * import assert from "node:assert/strict";
 *
 * let calls = 0;
 * const flaky: Embedder = {
 *   embed(texts) {
 *     if (++calls === 1) return Promise.reject(new TypeError("connection reset"));
 *     return Promise.resolve(texts.map((t) => [t.length]));
 *   },
 * };
 * const embedder = new ResilientEmbedder(flaky, { retry: { initialDelay: 1 } });
 * const results = await embedder.embedEach(["a", "bb", ""]);
 * assert.deepEqual(results[0], { ok: true, embedding: [1], truncated: false });
 * assert.deepEqual(results[1], { ok: true, embedding: [2], truncated: false });
 * assert.equal(results[2]?.error?.code, "EMPTY_TEXT");
 * assert.equal(embedder.metrics.summary().retries, 1);
 * ```
 */
export class ResilientEmbedder {
  readonly #embedder: Embedder;
  readonly #slots: AdaptiveLimit;
  readonly #limiter: QuotaLimiter;
  readonly #policy: RetryPolicy;
  readonly #maxInputTokens: number;
  // What the embedder adds to any text, in estimated tokens (plus 2 for joins): set on first use.
  #overhead: number | undefined;
  readonly #truncate: boolean;
  readonly #maxTexts: number;
  readonly #maxBytes: number;
  readonly #callTimeout: number;
  readonly #onCall: ((record: CallRecord) => void) | undefined;
  readonly #metrics: EmbeddingMetrics;
  readonly #breaker: CircuitBreaker | undefined;

  /**
   * Creates the wrapper.
   *
   * @param embedder What makes the calls, such as a `GeminiEmbedder`.
   * @param options Concurrency, quota, retries, limits and hooks.
   * @throws {RangeError} If an option is out of range.
   */
  constructor(embedder: Embedder, options: ResilienceOptions = {}) {
    const {
      concurrency = 4,
      maxInputTokens = embedder.maxInputTokens ?? MAX_INPUT_TOKENS,
      maxTextsPerCall = 100,
      maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES,
      callTimeout = "60s",
    } = options;
    const positive = (name: string, value: number) => {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot create embedder: ${name} must be a positive integer, received ${value}`,
        );
      }
    };
    positive("concurrency", concurrency);
    positive("maxInputTokens", maxInputTokens);
    positive("maxTextsPerCall", maxTextsPerCall);
    positive("maxRequestBytes", maxRequestBytes);
    try {
      this.#callTimeout = parseDuration(callTimeout, "callTimeout");
    } catch (error) {
      throw new RangeError(`Cannot create embedder: ${(error as Error).message}`);
    }
    if (this.#callTimeout === 0) {
      throw new RangeError("Cannot create embedder: callTimeout must be positive, received 0");
    }
    this.#embedder = embedder;
    this.#slots = new AdaptiveLimit(concurrency);
    this.#limiter = options.limiter ??
      new QuotaLimiter({
        rpm: options.rpm ?? Infinity,
        tpm: options.tpm ?? Infinity,
        window: 60_000 + QUOTA_MARGIN_MS,
      });
    this.#policy = retryPolicy(options.retry);
    this.#maxInputTokens = maxInputTokens;
    this.#truncate = options.truncate ?? false;
    this.#maxTexts = maxTextsPerCall;
    this.#maxBytes = maxRequestBytes;
    this.#onCall = options.onCall;
    this.#metrics = options.metrics ?? new EmbeddingMetrics();
    const breaker = options.circuitBreaker ?? {};
    this.#breaker = breaker === false
      ? undefined
      : breaker instanceof CircuitBreaker
      ? breaker
      : new CircuitBreaker(breaker);
  }

  /** The metrics this embedder records its calls in. */
  get metrics(): EmbeddingMetrics {
    return this.#metrics;
  }

  /** The quota limiter its calls wait on. */
  get limiter(): QuotaLimiter {
    return this.#limiter;
  }

  /** The circuit breaker its calls report to, unless it was turned off. */
  get circuitBreaker(): CircuitBreaker | undefined {
    return this.#breaker;
  }

  /** The current concurrency limit (lowered after 429s, then recovering). */
  get concurrency(): number {
    return this.#slots.limit;
  }

  /**
   * Embeds `inputs`, answering with one result per input, in order.
   *
   * @param inputs The texts or contents; any number (they are split into calls).
   * @param options Cancellation and the batch to name in call records.
   * @returns One result per text.
   * @throws {unknown} `signal.reason` when the signal aborts.
   * @throws {CircuitOpenError} When the circuit breaker opens (or is open):
   * the service cannot be reached, or an outage outlasted `maxOutage`.
   */
  async embedEach(
    inputs: readonly EmbedInput[],
    options: EmbedEachOptions = {},
  ): Promise<EmbeddingResult[]> {
    options.signal?.throwIfAborted();
    const results = new Array<EmbeddingResult>(inputs.length);
    const truncated = new Set<number>();
    const groups = new Map<string, Entry[]>();
    inputs.forEach((original, index) => {
      const entry = this.#admit(original, index);
      if ("code" in entry) {
        results[index] = failure(entry.code, entry.message, 0);
        return;
      }
      if (entry.input !== original) truncated.add(index);
      const key = this.#embedder.callGroup?.(entry.input) ?? "";
      let group = groups.get(key);
      if (group === undefined) groups.set(key, group = []);
      group.push(entry);
    });

    const chunks: Entry[][] = [];
    for (const group of groups.values()) chunks.push(...this.#chunk(group));
    const settle = (entry: Entry, vector: number[]) => {
      results[entry.index] = { ok: true, embedding: vector, truncated: truncated.has(entry.index) };
    };
    await Promise.all(chunks.map((c) => this.#send(c, 0, options, settle, results)));
    return results;
  }

  /** Checks one input against the token limit, truncating it if allowed. */
  #admit(input: EmbedInput, index: number): Entry | { code: string; message: string } {
    const text = inputText(input);
    const media = typeof input === "string" ? 0 : input.media?.length ?? 0;
    if (typeof text !== "string" || (text === "" && media === 0)) {
      return { code: "EMPTY_TEXT", message: "Cannot embed text: the text is empty" };
    }
    if (typeof input !== "string" && this.#embedder.embedContents === undefined) {
      return {
        code: "UNSUPPORTED_INPUT",
        message: "Cannot embed content: this embedder takes plain texts only (no embedContents)",
      };
    }
    const max = this.#maxInputTokens;
    if (typeof input === "string" && this.#limiter.tpm === Infinity) {
      // Tokens are counted only for a tokens-per-minute quota; without one, a
      // text clearly under the limit by its length is not estimated at all:
      // no count exceeds 3 tokens per UTF-16 unit (UTF-8 bytes, what a
      // byte-fallback tokenizer can reach; estimateTokens stays under 2)
      // beyond what the embedder adds to any text (plus 2 where they join).
      if (this.#overhead === undefined) {
        try {
          this.#overhead = this.#tokens("") + 2;
        } catch {
          this.#overhead = Infinity; // never take the shortcut
        }
      }
      if (input.length * 3 + this.#overhead <= max) {
        return { index, input, tokens: 0, bytes: requestBytes(input) };
      }
    }
    let tokens: number;
    try {
      tokens = this.#tokens(input);
    } catch (error) {
      // The embedder cannot send this input (an unknown task type, media its
      // model does not take): that input's own error, not the batch's.
      return { code: "INVALID_INPUT", message: (error as Error).message };
    }
    if (tokens <= max) {
      return { index, input, tokens: this.#counted(tokens), bytes: requestBytes(input) };
    }
    if (!this.#truncate) {
      return {
        code: "TOKEN_LIMIT",
        message:
          `Cannot embed text: estimated at ${tokens} tokens, over the limit of ${max} (set truncate to cut it)`,
      };
    }
    // Cut the text by what is over, counting what the embedder adds (an
    // instruction, media); the estimate is not exactly additive, so recheck.
    let cut = input;
    for (let round = 0; round < 4 && tokens > max; round++) {
      const current = inputText(cut);
      const keep = Math.max(0, estimateTokens(current) - (tokens - max));
      const shorter = truncateToTokens(current, keep);
      cut = typeof input === "string" ? shorter : { ...input, text: shorter };
      tokens = this.#tokens(cut);
      if (shorter === "") break;
    }
    if (tokens > max || inputText(cut) === "") {
      return {
        code: "TOKEN_LIMIT",
        message:
          `Cannot embed text: estimated at ${tokens} tokens even when cut, over the limit of ${max}`,
      };
    }
    return { index, input: cut, tokens: this.#counted(tokens), bytes: requestBytes(cut) };
  }

  /** The tokens an entry reserves: its estimate under a tokens-per-minute quota, else 0. */
  #counted(tokens: number): number {
    return this.#limiter.tpm === Infinity ? 0 : tokens;
  }

  #tokens(input: EmbedInput): number {
    return this.#embedder.inputTokens?.(input) ?? estimateInputTokens(input);
  }

  /** Splits entries into calls within the text, token and byte caps. */
  #chunk(entries: readonly Entry[]): Entry[][] {
    const tokenCap = this.#limiter.tpm;
    const chunks: Entry[][] = [];
    let chunk: Entry[] = [];
    let chunkTokens = 0;
    let chunkBytes = 0;
    for (const entry of entries) {
      if (
        chunk.length === this.#maxTexts ||
        (chunk.length > 0 &&
          (chunkTokens + entry.tokens > tokenCap || chunkBytes + entry.bytes > this.#maxBytes))
      ) {
        chunks.push(chunk);
        chunk = [];
        chunkTokens = 0;
        chunkBytes = 0;
      }
      chunk.push(entry);
      chunkTokens += entry.tokens;
      chunkBytes += entry.bytes;
    }
    if (chunk.length > 0) chunks.push(chunk);
    return chunks;
  }

  /** Sends `entries` in one call (with retries), narrowing down a 400. */
  async #send(
    entries: Entry[],
    priorAttempts: number,
    options: EmbedEachOptions,
    settle: (entry: Entry, vector: number[]) => void,
    results: EmbeddingResult[],
  ): Promise<void> {
    const outcome = await this.#call(entries, options);
    const attempts = priorAttempts + outcome.attempts;
    if (outcome.ok) {
      entries.forEach((entry, i) => settle(entry, outcome.vectors[i]!));
      return;
    }
    if (entries.length > 1 && isolatable(outcome.error)) {
      const named = namedRequest(outcome.class.message, entries.length);
      if (named !== undefined) {
        results[entries[named]!.index] = failureOf(outcome, attempts);
        const rest = entries.filter((_, i) => i !== named);
        return this.#send(rest, attempts, options, settle, results);
      }
      const middle = entries.length >>> 1;
      await Promise.all([
        this.#send(entries.slice(0, middle), attempts, options, settle, results),
        this.#send(entries.slice(middle), attempts, options, settle, results),
      ]);
      return;
    }
    for (const entry of entries) results[entry.index] = failureOf(outcome, attempts);
  }

  /** One logical call: attempts until success, a permanent error, or the retry budget is spent. */
  async #call(entries: Entry[], options: EmbedEachOptions): Promise<CallOutcome> {
    const { signal } = options;
    const texts = entries.map((e) => e.input);
    const tokens = entries.reduce((sum, e) => sum + e.tokens, 0);
    const startedAt = now();
    const failures: string[] = [];
    const finish = <O extends CallOutcome>(outcome: O, httpStatus?: number): O => {
      const record: CallRecord = {
        ...(options.batch !== undefined && { batch: options.batch }),
        ...(options.reason !== undefined && { reason: options.reason }),
        texts: texts.length,
        tokens,
        attempts: outcome.attempts,
        failures,
        status: outcome.ok ? "ok" : outcome.class.code,
        ...(httpStatus !== undefined && { httpStatus }),
        startedAt,
        latencyMs: now() - startedAt,
      };
      this.#metrics.recordCall(record);
      this.#onCall?.(record);
      return outcome;
    };
    const breaker = this.#breaker;
    // Attempts made during an outage being waited out are not spent.
    let spent = 0;
    for (let attempts = 1;; attempts++) {
      let result: { vectors: number[][] } | { error: unknown };
      breaker?.throwIfOpen();
      await this.#slots.acquire(signal);
      try {
        await this.#limiter.acquire(tokens, signal ? { signal } : undefined);
        result = { vectors: await this.#attempt(texts, signal) };
      } catch (error) {
        result = { error };
      } finally {
        this.#slots.release();
      }
      if (signal?.aborted) throw signal.reason;
      if ("vectors" in result) {
        breaker?.recordSuccess();
        this.#slots.increase();
        return finish({ ok: true, vectors: result.vectors, attempts });
      }
      const errorClass = classifyError(result.error);
      failures.push(errorClass.code);
      const kind = breaker?.recordFailure(result.error); // throws once every call would fail alike
      const outage = breaker?.isOutage(kind) ?? false;
      if (!outage) spent++;
      const delay = errorClass.retryAfter ?? backoffDelay(attempts, this.#policy);
      if (errorClass.rateLimited) {
        this.#slots.decrease();
        this.#limiter.pause(delay);
      }
      const giveUp = !errorClass.retryable ||
        (!outage && (spent >= this.#policy.maxAttempts ||
          now() + delay - startedAt > this.#policy.maxRetryTime));
      this.#metrics.attemptFailed(errorClass.code, !giveUp);
      if (giveUp) {
        return finish(
          { ok: false, error: result.error, class: errorClass, attempts },
          errorClass.status,
        );
      }
      await sleep(delay, signal);
    }
  }

  /** One request under `callTimeout`, abandoned (not awaited) as soon as it is aborted. */
  async #attempt(texts: EmbedInput[], signal: AbortSignal | undefined): Promise<number[][]> {
    const call = new AbortController();
    const onAbort = () => call.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timeout = this.#callTimeout;
    const timer = timeout === Infinity ? undefined : setTimeout(() => {
      call.abort(
        new DOMException(`Call timed out: no answer within ${timeout / 1000}s`, "TimeoutError"),
      );
    }, timeout);
    try {
      const embedder = this.#embedder;
      const request = embedder.embedContents
        ? embedder.embedContents(texts, { signal: call.signal })
        // Without embedContents every input was admitted only as a string.
        : embedder.embed(texts as string[], { signal: call.signal });
      // An embedder that ignores its signal must not hold the run: race it.
      const vectors = await new Promise<number[][]>((resolve, reject) => {
        call.signal.addEventListener("abort", () => reject(call.signal.reason), { once: true });
        request.then(resolve, reject);
      });
      if (!Array.isArray(vectors) || vectors.length !== texts.length) {
        throw new EmbeddingCountError(texts.length, Array.isArray(vectors) ? vectors.length : 0);
      }
      return vectors;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (!call.signal.aborted) call.abort(SETTLED); // drop the race's listener
    }
  }
}

/** Whether a failed call of several texts may be blamed on some of them: a 400 not about the key. */
function isolatable(error: unknown): boolean {
  if (!(error instanceof GeminiApiError) || error.status !== 400) return false;
  return !error.details.some((detail) =>
    typeof detail === "object" && detail !== null &&
    (detail as Record<string, unknown>).reason === "API_KEY_INVALID"
  ) && !/API key/i.test(error.message);
}

/** The request index a 400 message names (`requests[3]`), if exactly one valid index is named. */
function namedRequest(message: string, count: number): number | undefined {
  const named = new Set([...message.matchAll(/requests\[(\d+)\]/g)].map((m) => Number(m[1])));
  if (named.size !== 1) return undefined;
  const [index] = named;
  return index! < count ? index : undefined;
}

function failure(code: string, message: string, attempts: number): EmbeddingResult {
  return { ok: false, error: new EmbeddingError({ code, message, attempts }) };
}

function failureOf(
  outcome: { error: unknown; class: ErrorClass },
  attempts: number,
): EmbeddingResult {
  const { code, message, status } = outcome.class;
  return {
    ok: false,
    error: new EmbeddingError(
      { code, message, attempts, ...(status !== undefined && { status }) },
      { cause: outcome.error },
    ),
  };
}

/** Tokens of an input when the embedder does not say: its text's plus its media's. */
function estimateInputTokens(input: EmbedInput): number {
  if (typeof input === "string") return estimateTokens(input);
  let tokens = estimateTokens(input.text ?? "");
  for (const media of input.media ?? []) tokens += media.tokens;
  return tokens;
}

/** An input's estimated share of a request body: UTF-8 text at most 3 bytes a unit, base64 media. */
function requestBytes(input: EmbedInput): number {
  const text = inputText(input).length * 3 + 64;
  if (typeof input === "string") return text;
  let bytes = text + (input.title?.length ?? 0) * 3;
  for (const media of input.media ?? []) bytes += Math.ceil(media.size / 3) * 4 + 64;
  return bytes;
}
