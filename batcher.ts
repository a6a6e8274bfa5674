/**
 * Groups a stream of items into batches by size or by time.
 *
 * @module
 */

import { now } from "./internal/clock.ts";
import { AdaptivePolicy, type BatchFeedback, type CallObservation } from "./adaptive.ts";
import { Channel, type TryReceiveResult } from "./channel.ts";
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
  /** When the batch's first item arrived (ms since the epoch, from `Date.now()`). */
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
 * The deadline is a single `AbortSignal.timeout` per batch, created only
 * when the batcher actually has to wait and raced against the channel's
 * `receive`: there is no timer per item, and items already buffered are taken
 * synchronously with `tryReceive`. The deadline is linked to the caller's
 * signal by listeners removed when the batch leaves (not `AbortSignal.any`,
 * whose dependent signals stay attached to a long-lived run signal and made
 * the heap grow with every batch).
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
      this.#policy = new AdaptivePolicy({ batchSize, maxWait: this.#timeout, initialLatencyMs });
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
    let index = 0;
    while (true) {
      const batch = await this.#collect(input, index, signal);
      if (batch === undefined) break;
      index++;
      await output.send(batch, signal ? { signal } : undefined);
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
      for (let index = 0;; index++) {
        const batch = await this.#collect(source, index, signal);
        if (batch === undefined) return;
        yield batch;
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
    try {
      for (let index = 0;; index++) {
        const batch = await this.#collect(channel, index, signal);
        if (batch === undefined) break;
        yield batch;
      }
      if (failure) throw failure.error;
    } finally {
      stop.abort();
      await pumping;
    }
  }

  /** Collects the next batch, or `undefined` when the input is closed and drained. */
  #collect(
    input: Channel<T>,
    index: number,
    signal: AbortSignal | undefined,
  ): Promise<Batch<T> | undefined> {
    return this.#policy
      ? this.#collectAdaptive(input, index, signal, this.#policy)
      : this.#collectFixed(input, index, signal);
  }

  async #collectFixed(
    input: Channel<T>,
    index: number,
    signal: AbortSignal | undefined,
  ): Promise<Batch<T> | undefined> {
    const waitOptions = signal ? { signal } : undefined;
    let next: TryReceiveResult<T> = input.tryReceive();
    if (!next.ok && !next.closed) next = await input.receive(waitOptions);
    if (!next.ok) return undefined;

    const openedAt = now();
    const deadline = openedAt + this.#timeout;
    const items: T[] = [next.value];
    const emit = (reason: BatchReason): Batch<T> => ({
      items,
      reason,
      index,
      openedAt,
      emittedAt: now(),
    });
    // Created on the first wait, then shared by every wait of this batch.
    let deadlineSignal: AbortSignal | undefined;
    const race = new SignalRace(signal);
    try {
      while (items.length < this.#batchSize) {
        next = input.tryReceive();
        if (next.ok) {
          items.push(next.value);
          continue;
        }
        if (next.closed) return emit("end");
        if (this.#timeout === Infinity) {
          next = await input.receive(waitOptions);
        } else {
          if (deadlineSignal === undefined) {
            const remaining = deadline - now();
            if (remaining <= 0) return emit("timeout");
            deadlineSignal = AbortSignal.timeout(remaining);
            race.add(deadlineSignal);
          }
          try {
            next = await input.receive({ signal: race.signal });
          } catch (error) {
            if (signal?.aborted) throw signal.reason;
            if (deadlineSignal.aborted) return emit("timeout");
            throw error;
          }
        }
        if (!next.ok) return emit("end");
        items.push(next.value);
      }
      return emit("size");
    } finally {
      race.dispose();
    }
  }

  async #collectAdaptive(
    input: Channel<T>,
    index: number,
    signal: AbortSignal | undefined,
    policy: AdaptivePolicy,
  ): Promise<Batch<T> | undefined> {
    let next: TryReceiveResult<T> = input.tryReceive();
    if (!next.ok && !next.closed) next = await input.receive(signal ? { signal } : undefined);
    if (!next.ok) return undefined;

    const openedAt = now();
    policy.observeArrivals(1, openedAt);
    const items: T[] = [next.value];
    const emit = (reason: BatchReason): Batch<T> => ({
      items,
      reason,
      index,
      openedAt,
      emittedAt: now(),
    });
    // One AbortSignal.timeout per wake-up time: a new one only when the rule moves it.
    const alarm = new Alarm();
    try {
      return await this.#fillAdaptive(input, items, openedAt, emit, alarm, signal, policy);
    } finally {
      alarm.dispose();
    }
  }

  async #fillAdaptive(
    input: Channel<T>,
    items: T[],
    openedAt: number,
    emit: (reason: BatchReason) => Batch<T>,
    alarm: Alarm,
    signal: AbortSignal | undefined,
    policy: AdaptivePolicy,
  ): Promise<Batch<T>> {
    const hardDeadline = openedAt + this.#timeout;
    let next: TryReceiveResult<T>;
    while (true) {
      if (items.length >= this.#batchSize) return emit("size");
      let drained = 0;
      for (next = input.tryReceive(); next.ok; next = input.tryReceive()) {
        items.push(next.value);
        drained++;
        if (items.length >= this.#batchSize) break;
      }
      if (drained > 0) policy.observeArrivals(drained, now());
      if (items.length >= this.#batchSize) return emit("size");
      if (!next.ok && next.closed) return emit("end");

      const at = now();
      if (at >= hardDeadline) return emit("timeout");
      let wakeAt = hardDeadline;
      if (!policy.saturated) {
        const target = policy.targetSize();
        if (items.length >= target) return emit("size");
        const softDeadline = openedAt + policy.waitMs(target);
        if (at >= softDeadline) return emit("timeout");
        if (softDeadline < wakeAt) wakeAt = softDeadline;
      }
      const race = new SignalRace(signal);
      if (wakeAt !== Infinity) race.add(alarm.set(wakeAt, at));
      if (policy.saturated) race.add(policy.wakeSignal());
      try {
        next = await input.receive({ signal: race.signal });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (race.signal.aborted) continue; // a deadline or a release: apply the rule again
        throw error;
      } finally {
        race.dispose();
      }
      if (!next.ok) return emit("end");
      items.push(next.value);
      policy.observeArrivals(1, now());
    }
  }
}

/**
 * An `AbortSignal.timeout` for a wake-up time, reused while the time stays the
 * same, so the adaptive rule creates a new timer only when it moves the time.
 */
class Alarm {
  #signal: AbortSignal | undefined;
  #at = NaN;

  /** Returns a signal that aborts at time `at` (ms since the epoch; `current` is now). */
  set(at: number, current: number): AbortSignal {
    if (this.#signal === undefined || this.#signal.aborted || at !== this.#at) {
      this.#at = at;
      this.#signal = AbortSignal.timeout(Math.max(0, Math.ceil(at - current)));
    }
    return this.#signal;
  }

  /** Forgets the signal; its timer, unreferenced, fires into nothing. */
  dispose(): void {
    this.#signal = undefined;
  }
}

/**
 * Races several signals (a deadline, a release, the caller's) as one, linked
 * by `once` listeners that {@linkcode SignalRace.dispose} removes, so nothing
 * stays attached to a long-lived caller signal after the wait.
 */
class SignalRace {
  readonly #controller = new AbortController();
  readonly #links: [AbortSignal, () => void][] = [];

  constructor(signal: AbortSignal | undefined) {
    if (signal) this.add(signal);
  }

  /** The signal that aborts when any linked signal does. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Links one more signal into the race. */
  add(source: AbortSignal): void {
    if (source.aborted) {
      this.#controller.abort(source.reason);
      return;
    }
    const onAbort = () => this.#controller.abort(source.reason);
    source.addEventListener("abort", onAbort, { once: true });
    this.#links.push([source, onAbort]);
  }

  /** Removes every link. */
  dispose(): void {
    for (const [source, onAbort] of this.#links) source.removeEventListener("abort", onAbort);
    this.#links.length = 0;
  }
}
