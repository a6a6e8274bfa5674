/**
 * Groups a stream of items into batches by size or by time.
 *
 * @module
 */

import { now } from "./internal/clock.ts";
import { AdaptivePolicy, type BatchFeedback, type CallObservation } from "./adaptive.ts";
import { BatchWait } from "./_batch_wait.ts";
import { DeadlineTimer } from "./_deadline_timer.ts";
import { Channel, type ReceiveResult, type TryReceiveResult } from "./channel.ts";
import { parseDuration } from "./duration.ts";

/**
 * Why a batch was emitted: it reached `batchSize` (`"size"`), its first item
 * had waited `timeout` (`"timeout"`), or the input ended (`"end"`). With the
 * adaptive strategy, `"size"` means it reached its adaptive target size and
 * `"timeout"` that its adaptive wait (at most `timeout`) ran out.
 */
export type BatchReason = "size" | "timeout" | "end";

/**
 * A group of items emitted by a {@linkcode Batcher}.
 *
 * @typeParam T The type of the items.
 */
export interface Batch<T> {
  /** The items, in arrival order. Never empty. */
  readonly items: T[];
  /** Why the batch was emitted. */
  readonly reason: BatchReason;
  /** The batch's 0-based position in the stream. */
  readonly index: number;
  /** When the batch's first item arrived: ms since the epoch, with a fraction (a monotonic clock; the faked `Date.now()` under test). */
  readonly openedAt: number;
  /** When the batch was emitted (ms since the epoch). `emittedAt - openedAt` is how long its first item waited. */
  readonly emittedAt: number;
}

/**
 * How a {@linkcode Batcher} decides when a batch leaves:
 *
 * - `"fixed"`: when it holds `batchSize` items or its first item has waited `timeout`.
 * - `"adaptive"`: when it holds as many items as arrive during one call, or
 *   has waited about as long as that takes; bigger while the downstream is
 *   saturated; never later than `timeout` (see {@linkcode AdaptivePolicy}).
 */
export type BatchStrategy = "fixed" | "adaptive";

/** Options for {@linkcode Batcher}. */
export interface BatcherOptions {
  /** The most items in one batch; a batch that reaches it is emitted at once. Gemini accepts up to 100 texts per call. */
  batchSize: number;
  /**
   * The longest the first item of a batch waits before the batch is emitted
   * anyway: milliseconds, or a string such as `"250ms"` or `"1s"`. `Infinity`
   * disables it (batches then leave only when full or at the end). With the
   * adaptive strategy it is the maximum wait: batches usually leave sooner.
   */
  timeout: number | string;
  /**
   * How batches are sized: `"fixed"` (by `batchSize` and `timeout`) or
   * `"adaptive"` (to the arrival rate and the call latency reported through
   * {@linkcode Batcher.observeCall} and {@linkcode Batcher.setBackpressure}).
   *
   * @default {"fixed"}
   */
  strategy?: BatchStrategy;
  /**
   * Adaptive strategy only: the call latency assumed until the first call is
   * observed, in milliseconds or as a string like `"200ms"`.
   *
   * @default {100}
   */
  initialLatency?: number | string;
  /**
   * Adaptive strategy only: the request budget, in calls (batches) per
   * minute. Batches leave at least `60 000 / rpm` ms apart, as soon as that
   * allows; a 429 reported through {@linkcode Batcher.observeQuotaExceeded}
   * lowers it (see {@linkcode AdaptivePolicy}).
   *
   * @default {Infinity}
   */
  rpm?: number;
}

/** Options for {@linkcode Batcher.batch} and {@linkcode Batcher.batches}. */
export interface BatchingOptions {
  /** Stops batching; the call rejects (or the generator throws) with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Groups items into batches. A batch is emitted when it holds `batchSize`
 * items, when `timeout` has passed since its first item arrived, or when the
 * input ends (the final partial batch is always flushed, never dropped).
 *
 * The deadline is an `AbortSignal.timeout`, at most one per batch, created
 * only when the batcher actually has to wait; a batch whose deadline is no
 * earlier reuses the timer still pending from an earlier batch and, when it
 * fires, re-arms for the rest, so a fast stream makes about one timer per
 * `timeout`. A batch never leaves on its deadline before `timeout` has
 * passed on the clock since its first item. Because the runtime's timers
 * fire 1-2 ms after their delay, the timer is armed one millisecond short
 * and a timer that fires before the deadline is followed by event-loop
 * turns until the clock reaches it: a timed-out batch leaves about 0.5 ms
 * after its deadline instead of 1.5 ms. Waiting costs one promise per
 * wake-up and no listener per item: the deadline, the caller's signal and
 * the channel ({@linkcode Channel.whenReadable}) all call one wake function,
 * the channel only once the items a full batch still needs are there (or the
 * input is full or closed); after each wake the batcher drains what is
 * buffered with `tryReceive`. Signals are linked by listeners removed when
 * the run ends (not `AbortSignal.any`, whose dependent signals stay attached
 * to a long-lived run signal and made the heap grow with every batch).
 *
 * With `strategy: "adaptive"` the batcher also implements
 * {@linkcode BatchFeedback}: the stage that consumes its batches reports each
 * call's latency and whether it is saturated, and batches are sized to the
 * arrival rate (see {@linkcode AdaptivePolicy} for the rule). With the
 * default `"fixed"` strategy the feedback methods do nothing.
 *
 * @typeParam T The type of the items.
 *
 * @example Batching an iterable
 * ```ts
 * import { Batcher } from "./batcher.ts";
 * import assert from "node:assert/strict";
 *
 * const batcher = new Batcher<number>({ batchSize: 2, timeout: "1s" });
 * const batches = [];
 * for await (const batch of batcher.batches([1, 2, 3])) {
 *   batches.push([batch.items, batch.reason]);
 * }
 * assert.deepEqual(batches, [[[1, 2], "size"], [[3], "end"]]);
 * ```
 *
 * @example As a pipeline stage between channels
 * ```ts
 * import { Batcher, type Batch } from "./batcher.ts";
 * import { Channel } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * const input = new Channel<string>(8);
 * const output = new Channel<Batch<string>>(1);
 * const stage = new Batcher<string>({ batchSize: 8, timeout: 50 }).batch(input, output);
 * await input.send("a");
 * await input.send("b");
 * input.close();
 * const first = await output.receive();
 * assert.ok(first.ok);
 * assert.deepEqual(first.value.items, ["a", "b"]);
 * assert.equal(first.value.reason, "end");
 * await stage;
 * assert.equal(output.closed, true);
 * ```
 */
export class Batcher<T> implements BatchFeedback {
  readonly #batchSize: number;
  readonly #timeout: number;
  readonly #policy: AdaptivePolicy | undefined;
  // Deadline timers, shared by batches whose deadlines allow it and armed a
  // millisecond short of the deadline (see _deadline_timer.ts).
  readonly #timers = new DeadlineTimer();

  /**
   * Constructs a new batcher.
   *
   * @param options Batch size, timeout and strategy.
   * @throws {RangeError} If `batchSize` is not a positive integer, `timeout` or `initialLatency` is not a non-negative duration, or `strategy` is unknown.
   */
  constructor(options: BatcherOptions) {
    const { batchSize, timeout, strategy = "fixed" } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `Cannot create batcher: batchSize must be a positive integer, received ${batchSize}`,
      );
    }
    this.#batchSize = batchSize;
    try {
      this.#timeout = parseDuration(timeout, "timeout");
    } catch (error) {
      throw new RangeError(`Cannot create batcher: ${(error as Error).message}`);
    }
    if (strategy === "adaptive") {
      let initialLatencyMs: number;
      try {
        initialLatencyMs = parseDuration(options.initialLatency ?? 100, "initialLatency");
      } catch (error) {
        throw new RangeError(`Cannot create batcher: ${(error as Error).message}`);
      }
      if (initialLatencyMs === Infinity) {
        throw new RangeError(
          `Cannot create batcher: initialLatency must be finite, received ${options.initialLatency}`,
        );
      }
      const rpm = options.rpm ?? Infinity;
      if (!(rpm > 0)) {
        throw new RangeError(
          `Cannot create batcher: rpm must be a positive number, received ${options.rpm}`,
        );
      }
      this.#policy = new AdaptivePolicy({
        batchSize,
        maxWait: this.#timeout,
        initialLatencyMs,
        rpm,
      });
    } else if (strategy !== "fixed") {
      throw new RangeError(
        `Cannot create batcher: strategy must be "fixed" or "adaptive", received ${
          JSON.stringify(strategy)
        }`,
      );
    }
  }

  /** The most items in one batch. */
  get batchSize(): number {
    return this.#batchSize;
  }

  /** The longest a batch's first item waits, in milliseconds. */
  get timeout(): number {
    return this.#timeout;
  }

  /** How batches are sized. */
  get strategy(): BatchStrategy {
    return this.#policy ? "adaptive" : "fixed";
  }

  /**
   * Reports a finished call to the adaptive strategy (ignored by `"fixed"`).
   *
   * @param observation The call's latency and size.
   */
  observeCall(observation: CallObservation): void {
    this.#policy?.observeCall(observation);
  }

  /**
   * Reports that the API refused a call for quota (a 429) to the adaptive
   * strategy, which lowers its request budget below the call rate that drew
   * it (ignored by `"fixed"`).
   */
  observeQuotaExceeded(): void {
    this.#policy?.observeQuotaExceeded(now());
  }

  /**
   * Reports whether the consumer of batches is saturated (ignored by
   * `"fixed"`). While it is, an adaptive batch grows toward `batchSize`; the
   * release lets a held batch leave at once.
   *
   * @param saturated `true` while a new batch would have to wait to be sent.
   */
  setBackpressure(saturated: boolean): void {
    this.#policy?.setBackpressure(saturated);
  }

  /**
   * Runs as a pipeline stage: receives items from `input` and sends batches to
   * `output` until `input` is closed and drained, then closes `output` (the
   * end-of-stream sentinel passed downstream). If the stage fails or is
   * aborted, `output` is left open: a downstream stage must not mistake a
   * failure for a clean end.
   *
   * @param input Where items come from.
   * @param output Where batches go.
   * @param options Cancellation.
   * @returns A promise that resolves when every item has been sent on in a batch.
   */
  async batch(
    input: Channel<T>,
    output: Channel<Batch<T>>,
    options?: BatchingOptions,
  ): Promise<void> {
    const signal = options?.signal;
    const wait = new BatchWait(input, signal);
    try {
      for (let index = 0;; index++) {
        const batch = await this.#collect(input, index, signal, wait);
        if (batch === undefined) break;
        await output.send(batch, signal ? { signal } : undefined);
      }
    } finally {
      wait.dispose();
    }
    output.close();
  }

  /**
   * Batches any iterable or async iterable (or a {@linkcode Channel}). Items
   * are pulled into a small internal channel, so the source keeps flowing
   * while the consumer works on a batch; breaking out of the loop stops the
   * source. If the source throws, the items it produced are flushed as a
   * final batch and then the error is rethrown.
   *
   * @param source The items to batch.
   * @param options Cancellation.
   * @returns An async generator of batches.
   */
  async *batches(
    source: AsyncIterable<T> | Iterable<T>,
    options?: BatchingOptions,
  ): AsyncGenerator<Batch<T>, void, undefined> {
    const signal = options?.signal;
    if (source instanceof Channel) {
      const wait = new BatchWait(source, signal);
      try {
        for (let index = 0;; index++) {
          const batch = await this.#collect(source, index, signal, wait);
          if (batch === undefined) return;
          yield batch;
        }
      } finally {
        wait.dispose();
      }
    }
    const channel = new Channel<T>(this.#batchSize);
    const stop = new AbortController();
    const pumpSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    let failure: { error: unknown } | undefined;
    const pumping = (async () => {
      try {
        for await (const item of source) await channel.send(item, { signal: pumpSignal });
      } catch (error) {
        failure = { error };
      } finally {
        channel.close();
      }
    })();
    const wait = new BatchWait(channel, signal);
    try {
      for (let index = 0;; index++) {
        const batch = await this.#collect(channel, index, signal, wait);
        if (batch === undefined) break;
        yield batch;
      }
      if (failure) throw failure.error;
    } finally {
      wait.dispose();
      stop.abort();
      await pumping;
    }
  }

  /** Collects the next batch, or `undefined` when the input is closed and drained. */
  #collect(
    input: Channel<T>,
    index: number,
    signal: AbortSignal | undefined,
    wait: BatchWait,
  ): Promise<Batch<T> | undefined> {
    return this.#policy
      ? this.#collectAdaptive(input, index, signal, wait, this.#policy)
      : this.#collectFixed(input, index, signal, wait);
  }

  /** Waits for the first item of a batch: a value, or the end of the input. */
  async #first(
    input: Channel<T>,
    signal: AbortSignal | undefined,
    wait: BatchWait,
  ): Promise<ReceiveResult<T>> {
    let next = input.tryReceive();
    while (!next.ok && !next.closed) {
      if (signal?.aborted) throw signal.reason;
      await wait.wait(1);
      next = input.tryReceive();
    }
    return next;
  }

  async #collectFixed(
    input: Channel<T>,
    index: number,
    signal: AbortSignal | undefined,
    wait: BatchWait,
  ): Promise<Batch<T> | undefined> {
    let next: TryReceiveResult<T> = input.tryReceive();
    if (!next.ok && !next.closed) next = await this.#first(input, signal, wait);
    if (!next.ok) return undefined;

    const openedAt = now();
    const batchSize = this.#batchSize;
    const items: T[] = [next.value];
    const emit = (reason: BatchReason): Batch<T> => ({
      items,
      reason,
      index,
      openedAt,
      emittedAt: now(),
    });
    // Armed at the first wait, then shared by every wait of this batch.
    let deadline: AbortSignal | undefined;
    while (items.length < batchSize) {
      for (next = input.tryReceive(); next.ok; next = input.tryReceive()) {
        items.push(next.value);
        if (items.length >= batchSize) return emit("size");
      }
      if (next.closed) return emit("end");
      if (signal?.aborted) throw signal.reason;
      if (this.#timeout !== Infinity && (deadline === undefined || deadline.aborted)) {
        // Measured on the clock, so a timer that fires first only re-arms for the rest.
        const at = now();
        if (at >= openedAt + this.#timeout) return emit("timeout");
        deadline = this.#timers.by(openedAt + this.#timeout, at);
        wait.link(deadline);
      }
      // Only a full batch, the deadline, the end or an abort can end this
      // batch: wake once for the items still missing, not once per item.
      await wait.wait(batchSize - items.length);
    }
    return emit("size");
  }

  async #collectAdaptive(
    input: Channel<T>,
    index: number,
    signal: AbortSignal | undefined,
    wait: BatchWait,
    policy: AdaptivePolicy,
  ): Promise<Batch<T> | undefined> {
    let next: TryReceiveResult<T> = input.tryReceive();
    if (!next.ok && !next.closed) next = await this.#first(input, signal, wait);
    if (!next.ok) return undefined;

    const openedAt = now();
    policy.observeArrivals(1, openedAt);
    const items: T[] = [next.value];
    const emit = (reason: BatchReason): Batch<T> => {
      const emittedAt = now();
      policy.observeDeparture(emittedAt);
      return { items, reason, index, openedAt, emittedAt };
    };
    return await this.#fillAdaptive(input, items, openedAt, emit, wait, signal, policy);
  }

  async #fillAdaptive(
    input: Channel<T>,
    items: T[],
    openedAt: number,
    emit: (reason: BatchReason) => Batch<T>,
    wait: BatchWait,
    signal: AbortSignal | undefined,
    policy: AdaptivePolicy,
  ): Promise<Batch<T>> {
    const batchSize = this.#batchSize;
    const hardDeadline = openedAt + this.#timeout;
    // The pending wake-up timer: re-armed only when the rule wants an earlier
    // time; a later time is handled when the earlier timer wakes the batch.
    let alarm: AbortSignal | undefined;
    let alarmAt = Infinity;
    let release: AbortSignal | undefined;
    let ended = false;
    while (true) {
      if (!ended && items.length < batchSize) {
        let drained = 0;
        let next: TryReceiveResult<T>;
        for (next = input.tryReceive(); next.ok; next = input.tryReceive()) {
          items.push(next.value);
          drained++;
          if (items.length >= batchSize) break;
        }
        if (drained > 0) policy.observeArrivals(drained, now());
        ended = !next.ok && next.closed;
      }
      if (signal?.aborted) throw signal.reason;

      // What the rule says: leave now (a reason), or wake at `wakeAt`.
      const at = now();
      let reason: BatchReason | undefined;
      let wakeAt = hardDeadline;
      let wanted = batchSize; // items that would end the wait
      if (items.length >= batchSize) reason = "size";
      else if (ended) reason = "end";
      else if (at >= hardDeadline) reason = "timeout";
      else if (!policy.saturated) {
        const target = policy.targetSize();
        const softDeadline = openedAt + policy.waitMs(target);
        if (items.length >= target) reason = "size";
        else if (at >= softDeadline) reason = "timeout";
        else {
          wakeAt = Math.min(wakeAt, softDeadline);
          wanted = target;
        }
      }
      if (reason !== undefined) {
        // The request budget holds the batch until the next call is allowed.
        const earliest = policy.earliestDeparture();
        if (at >= earliest) return emit(reason);
        wakeAt = earliest;
      }

      if (alarm?.aborted) alarm = undefined, alarmAt = Infinity;
      if (wakeAt < alarmAt && wakeAt !== Infinity) {
        alarm = this.#timers.by(wakeAt, at);
        alarmAt = this.#timers.firesAt;
        wait.link(alarm);
      }
      if (policy.saturated && reason === undefined) {
        const wakeSignal = policy.wakeSignal();
        if (wakeSignal !== release) {
          release = wakeSignal;
          wait.link(wakeSignal);
        }
      }
      // Wake for the items the rule still wants; not for items at all when
      // the batch is full or the input ended (only the budget holds it then).
      const missing = ended || items.length >= batchSize ? 0 : wanted - items.length;
      await wait.wait(missing);
    }
  }
}
