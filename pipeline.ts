/**
 * The four-stage embedding pipeline: input enqueuer → batcher → embedder →
 * output writer, linked by channels whose `close()` is the end-of-stream
 * sentinel, so a run shuts itself down once every input has been written.
 *
 * @module
 */

import { now } from "./internal/clock.ts";
import { Notifier } from "./internal/notifier.ts";
import type { BatchFeedback } from "./adaptive.ts";
import { type Batch, Batcher, type BatchReason, type BatchStrategy } from "./batcher.ts";
import { Channel, type TryReceiveResult } from "./channel.ts";
import { type Embedder, type EmbedInput, inputText } from "./embedder.ts";
import { EmbeddingMetrics, type EmbeddingStats } from "./metrics.ts";
import {
  type EmbeddingResult,
  type ResilienceOptions,
  ResilientEmbedder,
} from "./resilience/resilient_embedder.ts";

/**
 * One input with its result — its vector (`ok: true, embedding`) or its own
 * error (`ok: false, error`) — as handed to the output writer.
 *
 * @typeParam T The type of the inputs.
 */
export type EmbeddedItem<T> = EmbeddingResult & {
  /** The input as it was given. */
  item: T;
  /** The text that was embedded (before any truncation). */
  text: string;
  /** The input's 0-based position in the input stream. */
  index: number;
  /** The batch it travelled in. */
  batch: Batch<T>;
};

/**
 * A batch with one result per item, in the same order.
 *
 * @typeParam T The type of the inputs.
 */
export interface EmbeddedBatch<T> {
  /** The batch that was embedded. */
  batch: Batch<T>;
  /** Position of the batch's first item in the input stream. */
  offset: number;
  /** The texts sent, one per item (a content's text part). */
  texts: string[];
  /** One result per item, in item order. */
  results: EmbeddingResult[];
}

/**
 * What a run did, as resolved by {@linkcode runPipeline}: the item, call and
 * latency totals of {@linkcode EmbeddingStats}, the batches, and the time.
 */
export interface PipelineSummary extends EmbeddingStats {
  /** Batches emitted, in total and by the reason they were emitted. */
  batches: { total: number } & Record<BatchReason, number>;
  /** Wall-clock duration of the run in milliseconds. */
  elapsedMs: number;
}

/** Options shared by the stage functions. */
export interface StageOptions {
  /** Stops the stage; it rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode embedBatches}.
 *
 * @typeParam T The type of the inputs.
 */
export interface EmbedStageOptions<T> extends StageOptions {
  /**
   * The most batches being embedded at once: a new one starts as soon as one finishes.
   *
   * @default {4}
   */
  concurrency?: number;
  /**
   * Pass batches on in input order (`true`), or as they finish (`false`).
   *
   * @default {true}
   */
  ordered?: boolean;
  /**
   * With `ordered`, how many finished batches may wait for an earlier one;
   * when that many wait, no new batch starts (the buffer never grows past it).
   *
   * @default {the concurrency}
   */
  reorderBuffer?: number;
  /** Called with each batch as the stage takes it, before it is embedded. */
  onBatch?: (batch: Batch<T>) => void;
  /** Called as soon as a batch's results are ready, before any reordering wait. */
  onEmbedded?: (embedded: EmbeddedBatch<T>) => void;
  /**
   * Told how long each batch took and when the stage is saturated (every
   * call slot busy, so a new batch would wait) and free again: pass the
   * adaptive {@linkcode Batcher} that feeds the stage.
   */
  feedback?: BatchFeedback;
}

/**
 * Options for {@linkcode runPipeline}: the inputs, the embedder and the
 * writer; batching; and every option of {@linkcode ResilienceOptions}
 * (concurrency, `rpm`/`tpm`, retries, token limit, call timeout, `onCall`,
 * `metrics`).
 *
 * @typeParam T The type of the inputs.
 */
export interface PipelineOptions<T> extends ResilienceOptions {
  /** The inputs, from any iterable or async iterable (a {@linkcode Channel} too). */
  inputs: AsyncIterable<T> | Iterable<T>;
  /**
   * Turns texts into vectors. A plain {@linkcode Embedder} is wrapped in a
   * {@linkcode ResilientEmbedder} built from these options; a
   * `ResilientEmbedder` is used as it is (its own options and metrics apply).
   */
  embedder: Embedder | ResilientEmbedder;
  /**
   * Receives each input with its result (`ok` tells a vector from an error),
   * in input order unless `ordered` is `false`; may be async (its promise is
   * awaited: backpressure).
   */
  write: (output: EmbeddedItem<T>) => void | Promise<void>;
  /**
   * The most inputs in one batch; a batch over `maxTextsPerCall` is sent in several calls.
   *
   * @default {100}
   */
  batchSize?: number;
  /**
   * The longest a batch's first input waits for the batch to fill: milliseconds or a string like `"1s"`.
   *
   * @default {1000}
   */
  timeout?: number | string;
  /**
   * How batches are sized: `"fixed"` by `batchSize` and `timeout`, or
   * `"adaptive"` to the arrival rate and call latency, with `timeout` as the
   * maximum wait (see {@linkcode Batcher}). The adaptive strategy also plans
   * its calls within `rpm` (batches at least `60 000 / rpm` ms apart) and,
   * without `rpm`, within a budget it learns from 429s.
   *
   * @default {"fixed"}
   */
  strategy?: BatchStrategy;
  /**
   * Extracts what to embed from an input: its text, or an
   * `EmbedContent` (a task type, a title, media) for an embedder
   * with `embedContents`.
   *
   * @default {the input itself, which must then be a string}
   */
  text?: (item: T) => EmbedInput;
  /**
   * Write results in input order (`true`), or as soon as their batch finishes (`false`).
   *
   * @default {true}
   */
  ordered?: boolean;
  /**
   * With `ordered`, how many finished batches may wait for an earlier one before no new batch starts.
   *
   * @default {the concurrency}
   */
  reorderBuffer?: number;
  /** Called as each batch is emitted, before it is embedded: for logging. */
  onBatch?: (batch: Batch<T>) => void;
  /**
   * When an input became available, in milliseconds since the epoch (as
   * `Date.now()`), for a caller that already knows it: a corpus reader notes
   * the time once for all the lines of a chunk. An input's latency then
   * counts from that time, or from when the pipeline could take it if the
   * pipeline was busy (its input channel full) until later. Without it the
   * pipeline reads the clock as it takes each input, exact for a sparse
   * stream.
   *
   * @default {the time the pipeline takes the input}
   */
  entryTime?: (item: T) => number;
  /**
   * Stops the whole run: no new calls, calls in flight aborted, `runPipeline`
   * rejects with `signal.reason`. Pass `metrics` to read what was done,
   * failed and cancelled.
   */
  signal?: AbortSignal;
}

/**
 * Stage 1, the input enqueuer: sends every input to `channel`, then closes it.
 *
 * @typeParam T The type of the inputs.
 * @param inputs The inputs.
 * @param channel Where they go.
 * @param options Cancellation.
 * @returns A promise that resolves once every input has been sent and the channel closed.
 *
 * @example Usage
 * ```ts
 * import { enqueue } from "./pipeline.ts";
 * import { Channel } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * const channel = new Channel<number>(3);
 * await enqueue([1, 2, 3], channel);
 * assert.deepEqual(await Array.fromAsync(channel), [1, 2, 3]);
 * ```
 */
export async function enqueue<T>(
  inputs: AsyncIterable<T> | Iterable<T>,
  channel: Channel<T>,
  options?: StageOptions,
): Promise<void> {
  const sendOptions = options?.signal ? { signal: options.signal } : undefined;
  for await (const item of inputs) await channel.send(item, sendOptions);
  channel.close();
}

/**
 * Stage 3, the embedder: a sliding pool of up to `concurrency` batches in
 * flight (a new one starts as soon as one finishes), each embedded with
 * {@linkcode ResilientEmbedder.embedEach}, passed on to `output` with one
 * result per item, in input order (through a bounded reorder buffer) or in
 * completion order. Closes `output` when `batches` ends and every batch has
 * been passed on. On failure or abort, the calls in flight are aborted and
 * the stage rejects once they have settled.
 *
 * @typeParam T The type of the inputs.
 * @param batches Where batches come from.
 * @param output Where embedded batches go.
 * @param embedder Turns texts into per-item results.
 * @param text Extracts the text from an input.
 * @param options Concurrency, ordering, cancellation and hooks.
 * @returns A promise that resolves with the number of items embedded.
 * @throws {RangeError} If `concurrency` or `reorderBuffer` is out of range.
 *
 * @example Usage
 * ```ts
 * import { embedBatches, type EmbeddedBatch } from "./pipeline.ts";
 * import { ResilientEmbedder } from "./resilience/resilient_embedder.ts";
 * import { Batcher, type Batch } from "./batcher.ts";
 * import { Channel } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * const batches = new Channel<Batch<string>>(4);
 * for await (const batch of new Batcher<string>({ batchSize: 2, timeout: 10 }).batches(["a", "bb", "ccc"])) {
 *   await batches.send(batch);
 * }
 * batches.close();
 * const output = new Channel<EmbeddedBatch<string>>(4);
 * const lengths = { embed: (texts: readonly string[]) => Promise.resolve(texts.map((t) => [t.length])) };
 * const items = await embedBatches(batches, output, new ResilientEmbedder(lengths), (s) => s);
 * assert.equal(items, 3);
 * const embedded = await Array.fromAsync(output);
 * assert.deepEqual(embedded.map((e) => e.results.map((r) => r.embedding)), [[[1], [2]], [[3]]]);
 * ```
 */
export async function embedBatches<T>(
  batches: Channel<Batch<T>>,
  output: Channel<EmbeddedBatch<T>>,
  embedder: ResilientEmbedder,
  text: (item: T) => EmbedInput,
  options: EmbedStageOptions<T> = {},
): Promise<number> {
  const { concurrency = 4, ordered = true, feedback } = options;
  const reorderBuffer = options.reorderBuffer ?? concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot embed batches: concurrency must be a positive integer, received ${concurrency}`,
    );
  }
  if (!Number.isInteger(reorderBuffer) || reorderBuffer < 0) {
    throw new RangeError(
      `Cannot embed batches: reorderBuffer must be a non-negative integer, received ${reorderBuffer}`,
    );
  }
  options.signal?.throwIfAborted();
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const waitOptions = { signal };
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    if (failure === undefined) {
      failure = { error };
      stop.abort(error);
    }
  };
  const changed = new Notifier();
  const finished = new Map<number, EmbeddedBatch<T>>(); // by start order, until passed on
  const tasks = new Set<Promise<void>>();
  let started = 0;
  let passedOn = 0;
  let items = 0;
  let inputEnded = false;

  const passOn = async () => {
    while (true) {
      for (
        let next = ordered ? passedOn : finished.keys().next().value;
        next !== undefined && finished.has(next);
        next = ordered ? passedOn : finished.keys().next().value
      ) {
        const embedded = finished.get(next)!;
        finished.delete(next);
        await output.send(embedded, waitOptions);
        passedOn++;
        changed.notify();
      }
      if (inputEnded && passedOn === started) return;
      await changed.wait(signal);
    }
  };
  const passing = passOn().catch(fail);

  try {
    let offset = 0;
    while (true) {
      const full = () =>
        tasks.size >= concurrency || started - passedOn >= concurrency + reorderBuffer;
      if (full()) {
        feedback?.setBackpressure(true);
        while (full()) await changed.wait(signal);
        feedback?.setBackpressure(false);
      }
      let next: TryReceiveResult<Batch<T>> = batches.tryReceive();
      if (!next.ok && !next.closed) next = await batches.receive(waitOptions);
      if (!next.ok) break;
      const batch = next.value;
      options.onBatch?.(batch);
      const inputs = batch.items.map(text);
      const texts = inputs.map(inputText);
      const seq = started++;
      const at = offset;
      offset += texts.length;
      const startedAt = feedback ? now() : 0;
      const task = embedder.embedEach(inputs, { signal, batch: batch.index, reason: batch.reason })
        .then((results) => {
          feedback?.observeCall({ latencyMs: now() - startedAt, items: texts.length });
          const embedded: EmbeddedBatch<T> = { batch, offset: at, texts, results };
          options.onEmbedded?.(embedded);
          items += texts.length;
          finished.set(seq, embedded);
        }, fail)
        .finally(() => {
          tasks.delete(task);
          changed.notify();
        });
      tasks.add(task);
    }
  } catch (error) {
    fail(error);
  } finally {
    inputEnded = true;
    changed.notify();
  }
  await passing;
  await Promise.all(tasks);
  if (failure) throw failure.error;
  output.close();
  return items;
}

/**
 * Stage 4, the output writer: hands every input with its result to `write`,
 * in the order the embedded batches arrive, until `embedded` is closed and
 * drained.
 *
 * @typeParam T The type of the inputs.
 * @param embedded Where embedded batches come from.
 * @param write Receives each input with its result; its promise, if any, is awaited.
 * @param options Cancellation.
 * @returns A promise that resolves with the number of items written.
 *
 * @example Usage
 * ```ts
 * import { writeOutputs, type EmbeddedBatch, type EmbeddedItem } from "./pipeline.ts";
 * import { Channel } from "./channel.ts";
 * import assert from "node:assert/strict";
 *
 * const embedded = new Channel<EmbeddedBatch<string>>(1);
 * const batch = { items: ["x"], reason: "end" as const, index: 0, openedAt: 0, emittedAt: 0 };
 * const results = [{ ok: true as const, embedding: [0.5], truncated: false }];
 * await embedded.send({ batch, offset: 0, texts: ["x"], results });
 * embedded.close();
 * const written: EmbeddedItem<string>[] = [];
 * assert.equal(await writeOutputs(embedded, (out) => void written.push(out)), 1);
 * assert.deepEqual(written[0]?.embedding, [0.5]);
 * ```
 */
export async function writeOutputs<T>(
  embedded: Channel<EmbeddedBatch<T>>,
  write: (output: EmbeddedItem<T>) => void | Promise<void>,
  options?: StageOptions,
): Promise<number> {
  const signal = options?.signal;
  let written = 0;
  for await (
    const { batch, offset, texts, results } of embedded.values(signal ? { signal } : undefined)
  ) {
    for (let i = 0; i < batch.items.length; i++) {
      signal?.throwIfAborted();
      const pending = write({
        ...(results[i] as EmbeddingResult),
        item: batch.items[i] as T,
        text: texts[i] as string,
        index: offset + i,
        batch,
      });
      if (pending) await pending;
      written++;
    }
  }
  return written;
}

function defaultText<T>(item: T): string {
  if (typeof item !== "string") {
    throw new TypeError(
      `Cannot embed input: expected a string (or pass a text option), received ${typeof item}`,
    );
  }
  return item;
}

/** Whether a call failure code is the API refusing for quota (a 429). */
function isQuotaRefusal(code: string): boolean {
  return code === "RESOURCE_EXHAUSTED" || code === "HTTP_429";
}

/**
 * Runs the four stages — input enqueuer → batcher → embedder → output writer —
 * each linked to the next by a bounded channel whose `close()` marks the end of
 * the stream. Every input gets exactly one result: its vector, or its own
 * error (over the token limit, rejected by the API, out of retries…), so one
 * bad input never fails the run. Resolves when every input has been written.
 * If a stage fails (the source, `text`, or `write` throws), the others are
 * aborted (nothing hangs) and the run rejects with that error.
 *
 * @typeParam T The type of the inputs.
 * @param options Inputs, embedder, writer, batching, and the {@linkcode ResilienceOptions}.
 * @returns What the run did.
 * @throws {RangeError} If the batching or resilience options are invalid.
 *
 * @example Usage
 * ```ts
 * import { runPipeline } from "./pipeline.ts";
 * import assert from "node:assert/strict";
 *
 * const lengths = { embed: (texts: readonly string[]) => Promise.resolve(texts.map((t) => [t.length])) };
 * const out: string[] = [];
 * const summary = await runPipeline({
 *   inputs: ["a", "bb", "ccc"],
 *   embedder: lengths,
 *   batchSize: 2,
 *   write: (r) => void out.push(r.ok ? `${r.text}:${r.embedding}` : `${r.text}: ${r.error.code}`),
 * });
 * assert.deepEqual(out, ["a:1", "bb:2", "ccc:3"]);
 * assert.equal(summary.items, 3);
 * assert.equal(summary.calls, 2);
 * ```
 *
 * @example Production settings: free-tier quota, retries, per-item errors
 * ```ts
 * import { EmbeddingMetrics, runPipeline } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const lengths = { embed: (texts: readonly string[]) => Promise.resolve(texts.map((t) => [t.length])) };
 * const metrics = new EmbeddingMetrics();
 * const failed: string[] = [];
 * const summary = await runPipeline({
 *   inputs: ["short", "x".repeat(10_000)],
 *   embedder: lengths,
 *   concurrency: 8,
 *   rpm: 100,
 *   tpm: 30_000,
 *   retry: { maxAttempts: 5, maxRetryTime: "2m" },
 *   callTimeout: "30s",
 *   metrics,
 *   write: (r) => void (r.ok || failed.push(r.error.code)),
 * });
 * assert.deepEqual(failed, ["TOKEN_LIMIT"]);
 * assert.equal(summary.succeeded, 1);
 * assert.equal(metrics.summary().failed, 1);
 * ```
 */
export async function runPipeline<T>(options: PipelineOptions<T>): Promise<PipelineSummary> {
  const batchSize = options.batchSize ?? 100;
  const batcher = new Batcher<T>({
    batchSize,
    timeout: options.timeout ?? 1000,
    ...(options.strategy ? { strategy: options.strategy } : {}),
    // The adaptive strategy plans its call rate within the request budget.
    ...(options.strategy === "adaptive" && options.rpm !== undefined && { rpm: options.rpm }),
  });
  const text = options.text ?? defaultText;
  const concurrency = options.concurrency ?? 4;
  const onCall = options.onCall;
  const embedder = options.embedder instanceof ResilientEmbedder
    ? options.embedder
    : new ResilientEmbedder(options.embedder, {
      ...options,
      metrics: options.metrics ?? new EmbeddingMetrics(),
      // A 429 teaches the adaptive strategy the budget it was not told.
      onCall: (record) => {
        if (record.failures.some(isQuotaRefusal)) batcher.observeQuotaExceeded();
        onCall?.(record);
      },
    });
  const metrics = embedder.metrics;
  const startedAt = now();
  const batches: PipelineSummary["batches"] = { total: 0, size: 0, timeout: 0, end: 0 };

  const failed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  let failure: { error: unknown } | undefined;
  const guard = <R>(stage: Promise<R>): Promise<R> =>
    stage.catch((error) => {
      if (failure === undefined) {
        failure = { error };
        failed.abort(error);
      }
      throw error;
    });

  // When each input entered, by index, until its result is ready: item latency.
  const enteredAt = new EntryTimes();
  const entryTime = options.entryTime;
  // Stage 1, inlined (as `enqueue`) so that noting each input's entry costs no extra generator.
  const enqueueNoting = async (channel: Channel<T>) => {
    const sendOptions = { signal };
    let free = -Infinity; // with entryTime: when the channel last had room again after a wait
    for await (const item of options.inputs) {
      enteredAt.push(entryTime ? Math.max(entryTime(item), free) : now());
      metrics.itemStarted();
      signal.throwIfAborted();
      if (channel.trySend(item)) continue;
      await channel.send(item, sendOptions);
      if (entryTime) free = now();
    }
    channel.close();
  };
  const onEmbedded = ({ offset, results }: EmbeddedBatch<T>) => {
    const time = now();
    for (let i = 0; i < results.length; i++) {
      const latency = time - enteredAt.take(offset + i, time);
      metrics.itemFinished(results[i]!.ok, latency > 0 ? latency : 0);
    }
  };

  const inputs = new Channel<T>(batchSize);
  const emitted = new Channel<Batch<T>>(1);
  const embedded = new Channel<EmbeddedBatch<T>>(1);
  const onBatch = (batch: Batch<T>) => {
    batches.total++;
    batches[batch.reason]++;
    options.onBatch?.(batch);
  };

  const stages = [
    guard(enqueueNoting(inputs)),
    guard(batcher.batch(inputs, emitted, { signal })),
    guard(embedBatches(emitted, embedded, embedder, text, {
      signal,
      concurrency,
      ordered: options.ordered ?? true,
      ...(options.reorderBuffer !== undefined && { reorderBuffer: options.reorderBuffer }),
      onBatch,
      onEmbedded,
      ...(batcher.strategy === "adaptive" ? { feedback: batcher } : {}),
    })),
    guard(writeOutputs(embedded, options.write, { signal })),
  ] as const;
  await Promise.allSettled(stages);
  if (failure) {
    metrics.cancelPending();
    throw failure.error;
  }
  return { ...metrics.summary(), batches, elapsedMs: now() - startedAt };
}

/**
 * The entry times of the inputs in flight, by input index: a sliding window
 * over a growable ring, since indexes are handed out in order and finish
 * roughly in order (a Map of them was a measurable share of a corpus run).
 */
class EntryTimes {
  #times = new Float64Array(1024);
  #head = 0; // ring slot of the oldest time kept
  #base = 0; // input index of the oldest time kept
  #count = 0; // times kept, taken or not, from #base on

  /** Notes the next index's entry time. */
  push(time: number): void {
    if (this.#count === this.#times.length) this.#grow();
    this.#times[(this.#head + this.#count) & (this.#times.length - 1)] = time;
    this.#count++;
  }

  /** Returns and forgets `index`'s entry time; `fallback` if it is not kept. */
  take(index: number, fallback: number): number {
    const at = index - this.#base;
    if (at < 0 || at >= this.#count) return fallback;
    const mask = this.#times.length - 1;
    const slot = (this.#head + at) & mask;
    const time = this.#times[slot]!;
    if (Number.isNaN(time)) return fallback;
    this.#times[slot] = NaN;
    while (this.#count > 0 && Number.isNaN(this.#times[this.#head]!)) {
      this.#head = (this.#head + 1) & mask;
      this.#base++;
      this.#count--;
    }
    return time;
  }

  #grow(): void {
    const old = this.#times;
    const next = new Float64Array(old.length * 2);
    for (let i = 0; i < this.#count; i++) next[i] = old[(this.#head + i) & (old.length - 1)]!;
    this.#times = next;
    this.#head = 0;
  }
}
