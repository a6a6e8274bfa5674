/**
 * The API a server uses: `await batcher.embed(text)` from many concurrent
 * callers, coalesced into batched calls.
 *
 * @module
 */

import { now } from "./internal/clock.ts";
import { Notifier } from "./internal/notifier.ts";
import { type Batch, Batcher, type BatchStrategy } from "./batcher.ts";
import { Channel } from "./channel.ts";
import { type Embedder, type EmbedInput, inputText } from "./embedder.ts";
import { EmbeddingBatcherClosedError } from "./errors.ts";
import { EmbeddingMetrics, type EmbeddingStats } from "./metrics.ts";
import { type ResilienceOptions, ResilientEmbedder } from "./resilience/resilient_embedder.ts";

/** Options for {@linkcode EmbeddingBatcher}: batching, and every {@linkcode ResilienceOptions}. */
export interface EmbeddingBatcherOptions extends ResilienceOptions {
  /**
   * Turns texts into vectors. A plain {@linkcode Embedder} is wrapped in a
   * {@linkcode ResilientEmbedder} built from these options; a
   * `ResilientEmbedder` is used as it is.
   */
  embedder: Embedder | ResilientEmbedder;
  /**
   * The most texts in one batch.
   *
   * @default {100}
   */
  batchSize?: number;
  /**
   * The longest the first text of a batch waits for the batch to fill:
   * milliseconds or a string like `"20ms"`.
   *
   * @default {"50ms"}
   */
  timeout?: number | string;
  /**
   * `"fixed"` (a batch leaves when full or at `timeout`) or `"adaptive"`
   * (batches sized to the arrival rate and the call latency, `batchSize` and
   * `timeout` becoming the upper bounds).
   *
   * @default {"fixed"}
   */
  strategy?: BatchStrategy;
  /**
   * How many texts may wait to be batched before `embed` itself waits (backpressure).
   *
   * @default {10 × batchSize}
   */
  queueSize?: number;
  /**
   * Called as each batch is emitted, before it is embedded.
   *
   * @default {undefined}
   */
  onBatch?: (batch: Batch<string>) => void;
}

/** Options for {@linkcode EmbeddingBatcher.embed}. */
export interface EmbeddingRequestOptions {
  /**
   * Withdraws this caller: `embed` rejects with `signal.reason`. The text is
   * dropped from its batch if the batch has not been sent; a call in flight
   * is aborted only when every caller in it has withdrawn.
   */
  signal?: AbortSignal;
}

interface Caller {
  resolve(vector: number[]): void;
  reject(error: unknown): void;
}

/** One slot of a batch: an input and everyone waiting for its vector. */
interface Slot {
  /** The input's text (a content's text part). */
  text: string;
  /** What is sent. */
  input: EmbedInput;
  /** What identical waiting inputs share; `undefined` for media (never shared). */
  key: string | undefined;
  enteredAt: number;
  callers: Set<Caller>;
  /** The abort controller of the call carrying it, once its batch is sent. */
  call?: { controller: AbortController; slots: Slot[] };
}

/**
 * Coalesces concurrent `embed(text)` calls into batches (by size and
 * timeout, with {@linkcode Batcher}) sent through a
 * {@linkcode ResilientEmbedder} with up to `concurrency` calls in flight.
 * Each caller gets its own vector, or rejects with its own
 * `EmbeddingError`.
 *
 * - Identical texts waiting at the same time share one slot (one text sent).
 * - A caller that aborts is removed before its batch is sent; a call in
 *   flight is aborted only once every caller in it has aborted.
 * - {@linkcode EmbeddingBatcher.close} flushes what is queued and waits for
 *   every call; `embed` then rejects with {@linkcode EmbeddingBatcherClosedError}.
 *
 * @example Usage
 * ```ts
 * import { EmbeddingBatcher } from "./embedding_batcher.ts";
 * import assert from "node:assert/strict";
 *
 * const calls: number[] = [];
 * const lengths = {
 *   embed(texts: readonly string[]) {
 *     calls.push(texts.length);
 *     return Promise.resolve(texts.map((t) => [t.length]));
 *   },
 * };
 * await using batcher = new EmbeddingBatcher({ embedder: lengths, timeout: "10ms" });
 * const vectors = await Promise.all(["a", "bb", "a"].map((t) => batcher.embed(t)));
 * assert.deepEqual(vectors, [[1], [2], [1]]);
 * assert.deepEqual(calls, [2]); // one call; "a" was sent once
 * ```
 */
export class EmbeddingBatcher implements AsyncDisposable {
  readonly #embedder: ResilientEmbedder;
  readonly #queue: Channel<Slot>;
  readonly #waiting = new Map<string, Slot>();
  readonly #concurrency: number;
  readonly #changed = new Notifier();
  readonly #tasks = new Set<Promise<void>>();
  readonly #running: Promise<void>;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * Creates the batcher and starts its batching loop.
   *
   * @param options The embedder, batching, and resilience options.
   * @throws {RangeError} If an option is out of range.
   */
  constructor(options: EmbeddingBatcherOptions) {
    const batchSize = options.batchSize ?? 100;
    const batcher = new Batcher<Slot>({
      batchSize,
      timeout: options.timeout ?? "50ms",
      ...(options.strategy !== undefined && { strategy: options.strategy }),
    });
    const queueSize = options.queueSize ?? batchSize * 10;
    if (!Number.isInteger(queueSize) || queueSize < 0) {
      throw new RangeError(
        `Cannot create embedding batcher: queueSize must be a non-negative integer, received ${queueSize}`,
      );
    }
    this.#concurrency = options.concurrency ?? 4;
    this.#embedder = options.embedder instanceof ResilientEmbedder
      ? options.embedder
      : new ResilientEmbedder(options.embedder, {
        ...options,
        metrics: options.metrics ?? new EmbeddingMetrics(),
      });
    this.#queue = new Channel<Slot>(queueSize);
    this.#running = this.#run(batcher, options.onBatch);
  }

  /** Whether {@linkcode EmbeddingBatcher.close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The metrics of the calls made so far. */
  get metrics(): EmbeddingMetrics {
    return this.#embedder.metrics;
  }

  /**
   * The totals so far: items, calls, retries, 429s, errors, latency.
   *
   * @returns A snapshot of the metrics.
   */
  summary(): EmbeddingStats {
    return this.#embedder.metrics.summary();
  }

  /**
   * Embeds one text (or an `EmbedContent`: a text with its own task type,
   * title or media, for an embedder with `embedContents`), together with
   * whatever other callers are embedding.
   *
   * @param text The text or content to embed.
   * @param options Withdrawal of this caller.
   * @returns The input's vector.
   * @throws {EmbeddingError} If the input got no vector (its code says why).
   * @throws {EmbeddingBatcherClosedError} If the batcher is closed.
   */
  async embed(text: EmbedInput, options: EmbeddingRequestOptions = {}): Promise<number[]> {
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    if (this.#closed) throw new EmbeddingBatcherClosedError();
    const key = slotKey(text);
    let slot = key === undefined ? undefined : this.#waiting.get(key);
    const fresh = slot === undefined;
    if (slot === undefined) {
      slot = { text: inputText(text), input: text, key, enteredAt: now(), callers: new Set() };
      if (key !== undefined) this.#waiting.set(key, slot);
      this.#embedder.metrics.itemStarted();
    }
    const current = slot;
    let caller!: Caller;
    const result = new Promise<number[]>((resolve, reject) => {
      caller = { resolve, reject };
    });
    current.callers.add(caller);
    const onAbort = () => {
      if (!current.callers.delete(caller)) return;
      caller.reject(signal!.reason);
      this.#abandon(current);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (fresh) {
        // Waiting for room is backpressure; the send itself is not tied to
        // this caller, so others who join the slot are served if it withdraws.
        const queued = this.#queue.send(current);
        queued.catch(() => {}); // cannot fail: the batcher was open when sent
        await Promise.race([queued, result]);
      }
      return await result;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Stops accepting texts, sends what is queued, and waits for every call.
   * Calling it again returns the same promise.
   *
   * @returns A promise that resolves once every queued text has its answer.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#queue.close();
      this.#closing = this.#running;
    }
    return this.#closing;
  }

  /** Closes the batcher: `await using batcher = new EmbeddingBatcher(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A caller withdrew: abort the call carrying its slot if nobody in it is left waiting. */
  #abandon(slot: Slot): void {
    if (slot.callers.size > 0) return;
    if (slot.call === undefined) {
      // Not sent yet: dropped when its batch forms; new callers get a new slot.
      if (slot.key !== undefined && this.#waiting.get(slot.key) === slot) {
        this.#waiting.delete(slot.key);
      }
      return;
    }
    if (slot.call.slots.every((s) => s.callers.size === 0)) {
      slot.call.controller.abort(new DOMException("Every caller withdrew", "AbortError"));
    }
  }

  async #run(batcher: Batcher<Slot>, onBatch: ((batch: Batch<string>) => void) | undefined) {
    for await (const batch of batcher.batches(this.#queue)) {
      if (this.#tasks.size >= this.#concurrency) {
        batcher.setBackpressure(true);
        while (this.#tasks.size >= this.#concurrency) await this.#changed.wait();
        batcher.setBackpressure(false);
      }
      const live: Slot[] = [];
      let dropped = 0;
      for (const slot of batch.items) {
        if (slot.key !== undefined && this.#waiting.get(slot.key) === slot) {
          this.#waiting.delete(slot.key);
        }
        if (slot.callers.size > 0) live.push(slot);
        else dropped++;
      }
      if (dropped > 0) this.#embedder.metrics.itemsCancelled(dropped);
      if (live.length === 0) continue;
      onBatch?.({ ...batch, items: live.map((s) => s.text) });
      const controller = new AbortController();
      const call = { controller, slots: live };
      for (const slot of live) slot.call = call;
      const startedAt = now();
      const task = this.#send(live, controller.signal, batch)
        .then((ok) => {
          if (ok) batcher.observeCall({ latencyMs: now() - startedAt, items: live.length });
        })
        .finally(() => {
          this.#tasks.delete(task);
          this.#changed.notify();
        });
      this.#tasks.add(task);
    }
    await Promise.all(this.#tasks);
  }

  /** Sends one batch and answers its callers; resolves `false` if it was aborted. */
  async #send(slots: Slot[], signal: AbortSignal, batch: Batch<Slot>): Promise<boolean> {
    const metrics = this.#embedder.metrics;
    try {
      const results = await this.#embedder.embedEach(slots.map((s) => s.input), {
        signal,
        batch: batch.index,
        reason: batch.reason,
      });
      const time = now();
      results.forEach((result, i) => {
        const slot = slots[i]!;
        metrics.itemFinished(result.ok, time - slot.enteredAt);
        for (const caller of slot.callers) {
          if (result.ok) caller.resolve(result.embedding);
          else caller.reject(result.error);
        }
        slot.callers.clear();
      });
      return true;
    } catch (error) {
      // Only an abort gets here: every caller of the call has withdrawn.
      metrics.itemsCancelled(slots.length);
      for (const slot of slots) {
        for (const caller of slot.callers) caller.reject(error);
        slot.callers.clear();
      }
      return false;
    }
  }
}

/** What identical waiting inputs share: the text, or a content's fields; none with media. */
function slotKey(input: EmbedInput): string | undefined {
  if (typeof input === "string") return input;
  if (input.media !== undefined && input.media.length > 0) return undefined;
  return `\u0000${JSON.stringify([input.text ?? "", input.taskType ?? null, input.title ?? null])}`;
}
