/**
 * A run-wide circuit breaker: stops every call when every call would fail
 * the same way, instead of retrying each batch to exhaustion.
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import { parseDuration } from "../duration.ts";
import { CircuitOpenError } from "../errors.ts";
import { describeNetworkFailure } from "./network_failure.ts";

/** Options of {@linkcode CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * Before any call has succeeded: how many calls in a row may fail with a
   * network error or a timeout before the breaker opens. Two timeouts in a
   * row are always enough (each has already waited a whole call timeout).
   *
   * @default {3}
   */
  failFast?: number;
  /**
   * After calls have succeeded: how long calls may keep failing with network
   * errors or timeouts (an outage, waited out with backoff) before the
   * breaker opens. Milliseconds or a string like `"5m"`; `Infinity` waits forever.
   *
   * @default {"5m"}
   */
  maxOutage?: number | string;
  /**
   * How long an open breaker refuses every call before it lets calls through
   * again ("half-open"): the next call's success closes it, its failure opens
   * it again at once. A run stops at the first `CircuitOpenError`, so this
   * matters to long-lived users such as a server's `EmbeddingBatcher`.
   * Milliseconds or a string like `"30s"`; `Infinity` keeps it open.
   *
   * @default {"30s"}
   */
  resetAfter?: number | string;
  /**
   * The host to name in messages when the error does not name one (a timeout
   * never does).
   *
   * @default {undefined}
   */
  host?: string;
}

/** What the breaker knows, for progress reports. */
export interface CircuitState {
  /** Whether the breaker has opened: every call now fails with its {@linkcode CircuitOpenError}. */
  open: boolean;
  /** Whether any call has succeeded. */
  succeeded: boolean;
  /** Calls that failed in a row with a network error or a timeout (0 when the last call got an answer). */
  failures: number;
  /** When the current run of failures began (ms since the epoch), while there is one. */
  failingSince: number | undefined;
  /** The last failure's cause, while calls are failing. */
  reason: string | undefined;
  /** Whether calls are failing without an answer after earlier successes (an outage being waited out). */
  waiting: boolean;
  /** The longest outage waited out, in milliseconds. */
  maxOutageMs: number;
}

/**
 * Counts calls that fail without an answer — network errors and timeouts —
 * across a whole run and decides when retrying is pointless:
 *
 * - **before any call has succeeded**, `failFast` such failures in a row (or
 *   two timeouts in a row) open the breaker at once: a wrong URL, a DNS typo,
 *   a refused connection or a silent server fails every call the same way;
 * - **after calls have succeeded**, such failures are an outage: calls keep
 *   retrying with backoff (network errors do not spend their attempts, nor
 *   timeouts once `failFast` calls in a row have failed; see
 *   {@linkcode CircuitBreaker.isOutage}) and the breaker opens only once the
 *   failures have lasted `maxOutage`.
 *
 * Any answer from the server (a success or an HTTP error) ends a run of
 * failures. While open, {@linkcode CircuitBreaker.throwIfOpen} and
 * {@linkcode CircuitBreaker.recordFailure} throw its {@linkcode CircuitOpenError};
 * after `resetAfter` it lets calls through again, and the first failure
 * opens it once more.
 *
 * @example A refused connection opens the breaker on the third failure
 * ```ts
 * import { CircuitBreaker } from "./circuit_breaker.ts";
 * import { CircuitOpenError } from "../errors.ts";
 * import assert from "node:assert/strict";
 *
 * const breaker = new CircuitBreaker({ host: "127.0.0.1:9" });
 * const refused = new TypeError("fetch failed", { cause: new Error("Connection refused (os error 111)") });
 * breaker.recordFailure(refused);
 * breaker.recordFailure(refused);
 * assert.throws(() => breaker.recordFailure(refused), CircuitOpenError);
 * assert.equal(breaker.state.open, true);
 * assert.throws(() => breaker.throwIfOpen(), /Cannot reach 127\.0\.0\.1:9: connection refused/);
 * ```
 */
export class CircuitBreaker {
  readonly #failFast: number;
  readonly #maxOutage: number;
  readonly #resetAfter: number;
  #openedAt = 0;
  #halfOpen = false;
  readonly #host: string | undefined;
  #succeeded = false;
  #failures = 0;
  #timeouts = 0;
  #since: number | undefined;
  #reason: string | undefined;
  #lastHost: string | undefined;
  #open: CircuitOpenError | undefined;

  /**
   * Creates a closed breaker.
   *
   * @param options How many failures open it before any success, and how long an outage may last.
   * @throws {RangeError} If `failFast` is not a positive integer or `maxOutage` is not a duration.
   */
  constructor(options: CircuitBreakerOptions = {}) {
    const { failFast = 3, maxOutage = "5m", resetAfter = "30s" } = options;
    if (!Number.isInteger(failFast) || failFast < 1) {
      throw new RangeError(
        `Cannot create circuit breaker: failFast must be a positive integer, received ${failFast}`,
      );
    }
    try {
      this.#maxOutage = parseDuration(maxOutage, "maxOutage");
      this.#resetAfter = parseDuration(resetAfter, "resetAfter");
    } catch (error) {
      throw new RangeError(`Cannot create circuit breaker: ${(error as Error).message}`);
    }
    this.#failFast = failFast;
    this.#host = options.host;
  }

  /** What the breaker knows now. */
  get state(): CircuitState {
    return {
      open: this.#open !== undefined,
      succeeded: this.#succeeded,
      failures: this.#failures,
      failingSince: this.#since,
      reason: this.#reason,
      waiting: this.waiting,
      maxOutageMs: this.#maxOutage,
    };
  }

  /**
   * Whether calls are failing without an answer after earlier successes: an
   * outage being waited out, for progress reports.
   */
  get waiting(): boolean {
    return this.#succeeded && this.#failures > 0 && this.#open === undefined;
  }

  /**
   * Throws the breaker's error if it is open.
   *
   * @throws {CircuitOpenError} If the breaker is open.
   */
  throwIfOpen(): void {
    if (this.#open === undefined) return;
    if (now() - this.#openedAt < this.#resetAfter) throw this.#open;
    this.#open = undefined; // half-open: the next call decides
    this.#halfOpen = true;
  }

  /** Records a call that got an answer with vectors: any run of failures ends. */
  recordSuccess(): void {
    this.#succeeded = true;
    this.#halfOpen = false;
    this.#reset();
  }

  /**
   * Records a failed call. An answer from the server (an HTTP error) ends a
   * run of failures; a network error or a timeout extends it, and may open
   * the breaker.
   *
   * @param error What the call rejected with.
   * @returns `"network"` or `"timeout"` for a failure without an answer, else `undefined`.
   * @throws {CircuitOpenError} If this failure opens the breaker, or it was open.
   */
  recordFailure(error: unknown): "network" | "timeout" | undefined {
    this.throwIfOpen();
    const failure = describeNetworkFailure(error);
    if (failure.kind === "other") {
      this.#halfOpen = false;
      this.#reset();
      return undefined;
    }
    const time = now();
    this.#failures++;
    this.#timeouts = failure.kind === "timeout" ? this.#timeouts + 1 : 0;
    this.#since ??= time;
    this.#reason = failure.reason;
    this.#lastHost = failure.host ?? this.#lastHost;
    const outageMs = time - this.#since;
    const unreachable = !this.#succeeded &&
      (this.#failures >= this.#failFast || this.#timeouts >= 2);
    if (this.#halfOpen || unreachable || (this.#succeeded && outageMs >= this.#maxOutage)) {
      this.#openedAt = time;
      this.#open = new CircuitOpenError({
        kind: this.#succeeded ? "outage" : "unreachable",
        host: this.#lastHost ?? this.#host,
        reason: failure.reason,
        failures: this.#failures,
        outageMs,
      }, { cause: error });
      throw this.#open;
    }
    return failure.kind;
  }

  /**
   * Whether a call that just failed this way should keep its attempts: after
   * earlier successes a network error is about the connection, not the call's
   * texts, so it is an outage to wait out; a timeout is one only once
   * `failFast` calls in a row have failed (it might be the call's own).
   *
   * @param kind What {@linkcode CircuitBreaker.recordFailure} returned.
   * @returns Whether the attempt is not counted against the call's budget.
   */
  isOutage(kind: "network" | "timeout" | undefined): boolean {
    if (kind === undefined || !this.#succeeded || this.#open !== undefined) return false;
    return kind === "network" || this.#failures >= this.#failFast;
  }

  #reset(): void {
    this.#failures = 0;
    this.#timeouts = 0;
    this.#since = undefined;
    this.#reason = undefined;
  }
}
