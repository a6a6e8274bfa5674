/**
 * Groups a stream of items into batches by size or by time.
 *
 * @module
 */

import { now } from "./_clock.ts";
import { Channel, type TryReceiveResult } from "./channel.ts";
import { parseDuration } from "./duration.ts";

/**
 * Why a batch was emitted: it reached `batchSize` (`"size"`), its first item
 * had waited `timeout` (`"timeout"`), or the input ended (`"end"`).
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

/** Options for {@linkcode Batcher}. */
export interface BatcherOptions {
  /** The most items in one batch; a batch that reaches it is emitted at once. Gemini accepts up to 100 texts per call. */
  batchSize: number;
  /**
   * The longest the first item of a batch waits before the batch is emitted
   * anyway: milliseconds, or a string such as `"250ms"` or `"1s"`. `Infinity`
   * disables it (batches then leave only when full or at the end).
   */
  timeout: number | string;
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
 * The deadline is a single `AbortSignal.timeout` per batch, created only when
 * the batcher actually has to wait, and raced against the channel's
 * `receive`: there is no timer per item, and items already buffered are taken
 * synchronously with `tryReceive`.
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
export class Batcher<T> {
  readonly #batchSize: number;
  readonly #timeout: number;

  /**
   * Constructs a new batcher.
   *
   * @param options Batch size and timeout.
   * @throws {RangeError} If `batchSize` is not a positive integer or `timeout` is not a non-negative duration.
   */
  constructor(options: BatcherOptions) {
    const { batchSize, timeout } = options;
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
  }

  /** The most items in one batch. */
  get batchSize(): number {
    return this.#batchSize;
  }

  /** The longest a batch's first item waits, in milliseconds. */
  get timeout(): number {
    return this.#timeout;
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
  async #collect(
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
    let timer: AbortSignal | undefined;

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
        if (timer === undefined) {
          const remaining = deadline - now();
          if (remaining <= 0) return emit("timeout");
          timer = AbortSignal.timeout(remaining);
          if (signal) timer = AbortSignal.any([timer, signal]);
        }
        try {
          next = await input.receive({ signal: timer });
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          if (timer.aborted) return emit("timeout");
          throw error;
        }
      }
      if (!next.ok) return emit("end");
      items.push(next.value);
    }
    return emit("size");
  }
}
