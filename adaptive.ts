/**
 * The adaptive batching rule: how big a batch should be and how long it may
 * wait, from the observed arrival rate, the observed call latency and whether
 * the stage downstream is saturated.
 *
 * @module
 */

/** One finished embedding call, as reported to {@linkcode BatchFeedback.observeCall}. */
export interface CallObservation {
  /** How long the batch took downstream, in milliseconds (as the embed stage saw it: retries and quota waits included). */
  latencyMs: number;
  /** How many items the call carried. */
  items: number;
}

/**
 * What the stage that consumes batches tells an adaptive batcher. The
 * pipeline's embed stage calls it; a fixed-strategy {@linkcode Batcher}
 * ignores it.
 *
 * - `observeCall` after each successful call: its latency is the time a
 *   batch takes downstream, which sets how many items are worth waiting for.
 * - `setBackpressure(true)` when a new batch could not start at once (every
 *   call slot busy, or waiting for quota), `setBackpressure(false)` as soon as
 *   it could. While saturated, waiting costs an item nothing, so batches grow
 *   toward `batchSize`; the release lets a held batch leave at once.
 *
 * @example Usage
 * ```ts
 * import type { BatchFeedback } from "./adaptive.ts";
 * import { Batcher } from "./batcher.ts";
 * import assert from "node:assert/strict";
 *
 * const feedback: BatchFeedback = new Batcher<string>({ batchSize: 100, timeout: "1s", strategy: "adaptive" });
 * feedback.setBackpressure(true);
 * feedback.observeCall({ latencyMs: 120, items: 40 });
 * feedback.setBackpressure(false);
 * assert.equal(typeof feedback.observeCall, "function");
 * ```
 */
export interface BatchFeedback {
  /**
   * Reports a finished call.
   *
   * @param observation Its latency and size.
   */
  observeCall(observation: CallObservation): void;
  /**
   * Reports whether the stage downstream is saturated.
   *
   * @param saturated `true` while a new batch would have to wait to be sent.
   */
  setBackpressure(saturated: boolean): void;
}

/** How many call latencies' worth of arrivals a batch aims to carry. */
const HEADROOM = 1.5;

/** Options for {@linkcode AdaptivePolicy}. */
export interface AdaptivePolicyOptions {
  /** The largest batch. */
  batchSize: number;
  /** The longest a batch's first item may wait, in milliseconds (`Infinity`: no limit). */
  maxWait: number;
  /**
   * The call latency assumed until the first call is observed, in milliseconds.
   *
   * @default {100}
   */
  initialLatencyMs?: number;
  /**
   * The weight of a new sample in the moving averages, in (0, 1]: smaller
   * is steadier, larger follows changes faster.
   *
   * @default {0.1}
   */
  smoothing?: number;
  /**
   * The request budget: the most batches (calls) per minute the policy may
   * plan. Batches then leave at least `60 000 / rpm` ms apart, as soon as
   * that allows. {@linkcode AdaptivePolicy.observeQuotaExceeded} lowers it.
   *
   * @default {Infinity}
   */
  rpm?: number;
}

/** How far below the call rate that drew a 429 a learned budget is set. */
const LEARNED_BUDGET_FACTOR = 0.9;
const MINUTE_MS = 60_000;

/**
 * The adaptive rule, as a small state machine a batcher consults.
 *
 * It keeps two exponentially weighted moving averages (EWMA): the gap between
 * arrivals `g` (so the arrival rate is λ = 1/g) and the call latency `L`.
 * From them it sets a horizon `H = 1.5 × L`.
 *
 * - **Target size** `n = clamp(round(H / g), 1, batchSize)`: the items that
 *   arrive in one and a half call latencies. Batches of `n` leave about every
 *   `H`, so a call is in flight about two thirds of the time — busy, but with
 *   headroom (at exactly one call's worth, `H = L`, the calls would run
 *   back to back and any burst would queue). Trickling inputs go out one by
 *   one at once (`n = 1`); pouring inputs fill whole batches.
 * - **Wait** `w = min(maxWait, max(n × g, L))`: about the time `n` items take
 *   to arrive, but never less than one latency, so that a noisy rate estimate
 *   does not cut a batch short. A batch leaves when it holds `n` items or its
 *   first item has waited `w`, whichever comes first.
 * - **Saturation**: while the downstream reports backpressure, a batch that
 *   left would only queue, so the batch keeps growing toward `batchSize`
 *   until the downstream frees up (then it leaves at once) or `maxWait`.
 * - **Never past `maxWait`**: a batch's first item never waits longer than
 *   `maxWait`, whatever the estimates say.
 *
 * - **Request budget**: with `rpm` (or a budget learned from 429s), batches
 *   leave at least `60 000 / rpm` ms apart, so the planned call rate never
 *   exceeds it; within that, a batch leaves as soon as the rule above and
 *   the spacing both allow, which spends the budget on latency. The budget
 *   takes precedence over `maxWait` and over a full batch: a call the quota
 *   does not allow would only wait or be refused.
 *
 * A gap sample is capped at `H`: any gap that long already means `n = 1`, and
 * the cap keeps one long silence from masking the burst after it. Items
 * drained together from a buffer share the elapsed time as equal gaps. Until
 * the first call is observed, `L` is `initialLatencyMs`.
 *
 * @example Usage
 * ```ts
 * import { AdaptivePolicy } from "./adaptive.ts";
 * import assert from "node:assert/strict";
 *
 * // smoothing 1: each estimate is just the last sample, to keep the numbers round.
 * const policy = new AdaptivePolicy({ batchSize: 100, maxWait: 1000, smoothing: 1 });
 * policy.observeCall({ latencyMs: 200, items: 1 });
 * for (let t = 0; t <= 500; t += 5) policy.observeArrivals(1, t); // 200 items/s
 * assert.equal(policy.targetSize(), 60); // 1.5 × 200 ms × 200 items/s
 * assert.equal(policy.waitMs(60), 300); // 60 items at 5 ms apart
 * for (let t = 505; t <= 5000; t += 1000) policy.observeArrivals(1, t); // 1 item/s
 * assert.equal(policy.targetSize(), 1); // a trickle: each item goes at once
 * policy.setBackpressure(true); // downstream busy: waiting is free, so grow
 * assert.equal(policy.targetSize(), 100);
 * assert.equal(policy.waitMs(100), 1000);
 * ```
 */
export class AdaptivePolicy implements BatchFeedback {
  readonly #batchSize: number;
  readonly #maxWait: number;
  readonly #alpha: number;
  #gap: number;
  #latency: number;
  #lastArrival = NaN;
  #saturated = false;
  #wake: AbortController | undefined;
  #rpm: number;
  #minInterval: number;
  #lastDeparture = -Infinity;
  // Departure times in the last minute, oldest first: what a 429 teaches.
  #departures: number[] = [];

  /**
   * Constructs a new policy.
   *
   * @param options Batch size, maximum wait and estimator settings.
   * @throws {RangeError} If `initialLatencyMs` is negative or not finite, or `smoothing` is not in (0, 1].
   */
  constructor(options: AdaptivePolicyOptions) {
    const { batchSize, maxWait, initialLatencyMs = 100, smoothing = 0.1, rpm = Infinity } = options;
    if (!(rpm > 0)) {
      throw new RangeError(
        `Cannot create adaptive policy: rpm must be a positive number, received ${rpm}`,
      );
    }
    if (!Number.isFinite(initialLatencyMs) || initialLatencyMs < 0) {
      throw new RangeError(
        `Cannot create adaptive policy: initialLatencyMs must be a non-negative finite number, received ${initialLatencyMs}`,
      );
    }
    if (!(smoothing > 0 && smoothing <= 1)) {
      throw new RangeError(
        `Cannot create adaptive policy: smoothing must be in (0, 1], received ${smoothing}`,
      );
    }
    this.#batchSize = batchSize;
    this.#maxWait = maxWait;
    this.#alpha = smoothing;
    this.#latency = initialLatencyMs;
    this.#rpm = rpm;
    this.#minInterval = MINUTE_MS / rpm;
    // Until arrivals are seen, assume a trickle: one item per call.
    this.#gap = Math.max(HEADROOM * initialLatencyMs, 1);
  }

  /** The estimated gap between arrivals, in milliseconds. */
  get arrivalGapMs(): number {
    return this.#gap;
  }

  /** The estimated call latency, in milliseconds. */
  get latencyMs(): number {
    return this.#latency;
  }

  /** The request budget in calls per minute (`Infinity`: none). */
  get rpm(): number {
    return this.#rpm;
  }

  /**
   * The earliest time the next batch may leave under the request budget
   * (`-Infinity` without one).
   *
   * @returns Milliseconds, on the batcher's clock.
   */
  earliestDeparture(): number {
    return this.#rpm === Infinity ? -Infinity : this.#lastDeparture + this.#minInterval;
  }

  /**
   * Records that a batch left (one call), at `at`.
   *
   * @param at When (ms, from the batcher's clock).
   */
  observeDeparture(at: number): void {
    this.#lastDeparture = at;
    const departures = this.#departures;
    departures.push(at);
    if (departures[0]! <= at - MINUTE_MS) {
      let old = 1;
      while (old < departures.length && departures[old]! <= at - MINUTE_MS) old++;
      departures.splice(0, old);
    }
  }

  /**
   * Records that the API refused a call for quota (a 429) at `at`: the
   * budget becomes 90% of the calls that left in the minute before, if that
   * is lower than the budget in force. It is never raised again.
   *
   * @param at When (ms, from the batcher's clock).
   */
  observeQuotaExceeded(at: number): void {
    const recent = this.#departures.filter((t) => t > at - MINUTE_MS).length;
    const learned = Math.max(1, Math.floor(recent * LEARNED_BUDGET_FACTOR));
    if (learned < this.#rpm) {
      this.#rpm = learned;
      this.#minInterval = MINUTE_MS / learned;
    }
  }

  /** Whether the downstream last reported backpressure. */
  get saturated(): boolean {
    return this.#saturated;
  }

  /**
   * Records that `count` items arrived since the last record, the last at `at`.
   *
   * @param count How many items arrived.
   * @param at When (ms, from the batcher's clock).
   */
  observeArrivals(count: number, at: number): void {
    const last = this.#lastArrival;
    this.#lastArrival = at;
    if (Number.isNaN(last) || count <= 0) return;
    const cap = Math.max(HEADROOM * this.#latency, 1);
    const sample = Math.min((at - last) / count, cap);
    // `count` equal samples at once: the old estimate keeps (1 - α)^count of its weight.
    const keep = count === 1 ? 1 - this.#alpha : (1 - this.#alpha) ** count;
    this.#gap = this.#gap * keep + sample * (1 - keep);
  }

  /**
   * Records a finished call's latency.
   *
   * @param observation Its latency and size.
   */
  observeCall(observation: CallObservation): void {
    const { latencyMs } = observation;
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    this.#latency += this.#alpha * (latencyMs - this.#latency);
  }

  /**
   * Records whether the downstream is saturated; a release wakes a waiting batch.
   *
   * @param saturated `true` while a new batch would have to wait.
   */
  setBackpressure(saturated: boolean): void {
    if (this.#saturated === saturated) return;
    this.#saturated = saturated;
    if (!saturated && this.#wake) {
      this.#wake.abort();
      this.#wake = undefined;
    }
  }

  /**
   * A signal that aborts when the backpressure is next released: a batcher
   * races its wait against it.
   *
   * @returns The signal (shared until it fires).
   */
  wakeSignal(): AbortSignal {
    this.#wake ??= new AbortController();
    return this.#wake.signal;
  }

  /**
   * The number of items a batch should hold now: `clamp(round(1.5 × L / g), 1, batchSize)`,
   * or `batchSize` while the downstream is saturated.
   *
   * @returns The target size.
   */
  targetSize(): number {
    if (this.#saturated) return this.#batchSize;
    const n = Math.round((HEADROOM * this.#latency) / Math.max(this.#gap, 1e-3));
    return n < 1 ? 1 : n > this.#batchSize ? this.#batchSize : n;
  }

  /**
   * How long a batch's first item should wait for `target` items: `min(maxWait, max(target × g, L))`,
   * or `maxWait` while the downstream is saturated.
   *
   * @param target The target size.
   * @returns Milliseconds from the batch's first item.
   */
  waitMs(target: number): number {
    if (this.#saturated) return this.#maxWait;
    return Math.min(this.#maxWait, Math.max(target * this.#gap, this.#latency));
  }
}
