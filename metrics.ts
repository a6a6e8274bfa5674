/**
 * What an embedding run did: a record per call, and a summary of calls,
 * retries, 429s, errors, items and item latency.
 *
 * @module
 */

import type { BatchReason } from "./batcher.ts";
import { LatencyHistogram } from "./internal/histogram.ts";

/** How many item latencies are kept exactly before only the histogram is used. */
const EXACT_SAMPLES = 65_536;

/**
 * One logical call: a group of texts sent together, with all its attempts.
 * Passed to the `onCall` option once the call has succeeded or given up.
 */
export interface CallRecord {
  /** The index of the batch the texts came from, when they came from one. */
  batch?: number;
  /** Why that batch was emitted: full, timed out, or the input ended. */
  reason?: BatchReason;
  /** How many texts the call carried. */
  texts: number;
  /** Their estimated tokens, as reserved against the tokens-per-minute quota (0 without one: texts are then estimated only when they may be over the per-text limit). */
  tokens: number;
  /** How many requests were made, the first included. */
  attempts: number;
  /** The error code of each failed attempt, in order (`"RESOURCE_EXHAUSTED"` for a 429). */
  failures: string[];
  /** `"ok"`, or the error code the call gave up with. */
  status: string;
  /** The HTTP status of the last failed attempt, when the server answered one. */
  httpStatus?: number;
  /** When the first attempt started (ms since the epoch). */
  startedAt: number;
  /** From the first attempt's start to the call's end, waits and retries included, in ms. */
  latencyMs: number;
}

/** Item latency percentiles in milliseconds: from an item's arrival to its result. */
export interface LatencyPercentiles {
  /** The median. */
  p50: number;
  /** The 95th percentile. */
  p95: number;
  /** The 99th percentile. */
  p99: number;
  /** The largest. */
  max: number;
}

/** Totals kept by {@linkcode EmbeddingMetrics}. */
export interface EmbeddingStats {
  /** Items received. */
  items: number;
  /** Items that got their vector. */
  succeeded: number;
  /** Items that ended with an error result. */
  failed: number;
  /** Items given up because the run was cancelled. */
  cancelled: number;
  /** Items received that have no result yet. */
  pending: number;
  /** Requests sent (attempts), retries included. */
  calls: number;
  /** Requests that were retries, counting retries of calls still in progress. */
  retries: number;
  /** Requests answered with 429 (quota exhausted): failures coded `RESOURCE_EXHAUSTED` or `HTTP_429`, as they happen. */
  rateLimited: number;
  /** Requests that failed, for any reason. */
  callErrors: number;
  /** Item latency percentiles over the items with a result; all 0 before the first. */
  itemLatencyMs: LatencyPercentiles;
}

/**
 * Collects call records and item outcomes, and summarises them. Pass one to
 * `runPipeline` or `EmbeddingBatcher` to read progress while they run (and
 * the final figures even when a run is cancelled).
 *
 * @example Usage
 * ```ts
 * import { EmbeddingMetrics } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * const metrics = new EmbeddingMetrics();
 * metrics.itemStarted(2);
 * metrics.recordCall({
 *   texts: 2, tokens: 10, attempts: 2, failures: ["RESOURCE_EXHAUSTED"], status: "ok",
 *   startedAt: 0, latencyMs: 40,
 * });
 * metrics.itemFinished(true, 40);
 * metrics.itemFinished(false, 60);
 * const stats = metrics.summary();
 * assert.equal(stats.calls, 2);
 * assert.equal(stats.retries, 1);
 * assert.equal(stats.rateLimited, 1);
 * assert.equal(stats.succeeded, 1);
 * assert.equal(stats.failed, 1);
 * assert.equal(stats.itemLatencyMs.max, 60);
 * ```
 */
export class EmbeddingMetrics {
  #items = 0;
  #succeeded = 0;
  #failed = 0;
  #cancelled = 0;
  #calls = 0;
  #retries = 0;
  #rateLimited = 0;
  #callErrors = 0;
  // Retries and 429s of calls still in progress (see attemptFailed), so that
  // the totals move as they happen, not only when the call ends.
  #liveRetries = 0;
  #liveRateLimited = 0;
  #liveFailures = 0;
  // Exact samples while there are few (tests and small runs get exact
  // percentiles); past EXACT_SAMPLES only the fixed-size histogram is kept,
  // so memory does not grow with the number of items.
  #latencies: number[] | undefined = [];
  #sorted = true;
  #histogram = new LatencyHistogram();

  /**
   * Counts items entering the run.
   *
   * @param count How many.
   */
  itemStarted(count = 1): void {
    this.#items += count;
  }

  /**
   * Records one item's result.
   *
   * @param ok Whether it got its vector.
   * @param latencyMs From its arrival to its result, in milliseconds.
   */
  itemFinished(ok: boolean, latencyMs: number): void {
    if (ok) this.#succeeded++;
    else this.#failed++;
    this.#histogram.record(latencyMs);
    const exact = this.#latencies;
    if (exact === undefined) return;
    if (exact.length === EXACT_SAMPLES) {
      this.#latencies = undefined;
      return;
    }
    const last = exact[exact.length - 1];
    if (last !== undefined && latencyMs < last) this.#sorted = false;
    exact.push(latencyMs);
  }

  /**
   * Counts items given up because their run or their callers were cancelled.
   *
   * @param count How many.
   */
  itemsCancelled(count = 1): void {
    this.#cancelled += count;
  }

  /**
   * Counts every item still pending as cancelled: the run has stopped.
   */
  cancelPending(): void {
    this.#cancelled += this.#pending();
  }

  /**
   * Counts a failed attempt of a call still in progress, as it happens: a 429
   * at once, and a retry when one will follow. {@linkcode EmbeddingMetrics.recordCall}
   * then takes them over, so nothing is counted twice.
   *
   * @param code The attempt's error code, such as `RESOURCE_EXHAUSTED`.
   * @param retrying Whether the call will be tried again.
   */
  attemptFailed(code: string, retrying: boolean): void {
    if (isRateLimited(code)) this.#liveRateLimited++;
    if (retrying) this.#liveRetries++;
    this.#liveFailures++;
  }

  /**
   * Adds a call's attempts to the totals.
   *
   * @param record The finished call.
   */
  recordCall(record: CallRecord): void {
    this.#calls += record.attempts;
    this.#retries += record.attempts - 1;
    this.#callErrors += record.failures.length;
    this.#liveRetries = Math.max(0, this.#liveRetries - (record.attempts - 1));
    this.#liveFailures = Math.max(0, this.#liveFailures - record.failures.length);
    for (const code of record.failures) {
      if (!isRateLimited(code)) continue;
      this.#rateLimited++;
      this.#liveRateLimited = Math.max(0, this.#liveRateLimited - 1);
    }
  }

  /**
   * The totals so far.
   *
   * @returns A snapshot of the totals and item latency percentiles.
   */
  summary(): EmbeddingStats {
    const exact = this.#latencies;
    if (exact !== undefined && !this.#sorted) {
      exact.sort((a, b) => a - b);
      this.#sorted = true;
    }
    const at = (q: number) => {
      if (exact === undefined) return this.#histogram.quantile(q);
      const n = exact.length;
      return n === 0 ? 0 : exact[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
    };
    return {
      items: this.#items,
      succeeded: this.#succeeded,
      failed: this.#failed,
      cancelled: this.#cancelled,
      pending: this.#pending(),
      calls: this.#calls + this.#liveFailures,
      retries: this.#retries + this.#liveRetries,
      rateLimited: this.#rateLimited + this.#liveRateLimited,
      callErrors: this.#callErrors + this.#liveFailures,
      itemLatencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) },
    };
  }

  #pending(): number {
    return this.#items - this.#succeeded - this.#failed - this.#cancelled;
  }
}

function isRateLimited(code: string): boolean {
  return code === "RESOURCE_EXHAUSTED" || code === "HTTP_429";
}
