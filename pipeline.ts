/**
 * The four-stage embedding pipeline: input enqueuer → batcher → embedder →
 * output writer, linked by channels whose `close()` is the end-of-stream
 * sentinel, so a run shuts itself down once every input has been written.
 *
 * @module
 */

import { now } from "./_clock.ts";
import type { BatchFeedback } from "./adaptive.ts";
import { type Batch, Batcher, type BatchReason, type BatchStrategy } from "./batcher.ts";
import { Channel } from "./channel.ts";
import type { Embedder } from "./embedder.ts";

/**
 * One input with its embedding, as handed to the output writer.
 *
 * @typeParam T The type of the inputs.
 */
export interface EmbeddedItem<T> {
  /** The input as it was given. */
  item: T;
  /** The text that was embedded. */
  text: string;
  /** The input's 0-based position in the input stream. */
  index: number;
  /** The batch it travelled in. */
  batch: Batch<T>;
  /** Its vector. */
  embedding: number[];
}

/**
 * A batch with one vector per item, in the same order.
 *
 * @typeParam T The type of the inputs.
 */
export interface EmbeddedBatch<T> {
  /** The batch that was embedded. */
  batch: Batch<T>;
  /** Position of the batch's first item in the input stream. */
  offset: number;
  /** The texts sent, one per item. */
  texts: string[];
  /** One vector per item, in item order. */
  embeddings: number[][];
}

/** What a run did, as resolved by {@linkcode runPipeline}. */
export interface PipelineSummary {
  /** Inputs read and written. */
  items: number;
  /** Batches emitted, in total and by the reason they were emitted. */
  batches: { total: number } & Record<BatchReason, number>;
  /** Calls made to the embedder. */
  calls: number;
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
  /** Called with each batch as the stage takes it, before it is embedded. */
  onBatch?: (batch: Batch<T>) => void;
  /**
   * Told each call's latency and when the stage is busy (saturated) and free
   * again: pass the adaptive {@linkcode Batcher} that feeds the stage.
   */
  feedback?: BatchFeedback;
}

/**
 * Options for {@linkcode runPipeline}.
 *
 * @typeParam T The type of the inputs.
 */
export interface PipelineOptions<T> {
  /** The inputs, from any iterable or async iterable (a {@linkcode Channel} too). */
  inputs: AsyncIterable<T> | Iterable<T>;
  /** Turns inputs into vectors. */
  embedder: Embedder;
  /** Receives each input with its vector, in input order; may be async (its promise is awaited: backpressure). */
  write: (output: EmbeddedItem<T>) => void | Promise<void>;
  /**
   * The most inputs in one batch (one embedder call).
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
   * maximum wait (see {@linkcode Batcher}).
   *
   * @default {"fixed"}
   */
  strategy?: BatchStrategy;
  /**
   * Extracts the text to embed from an input.
   *
   * @default {the input itself, which must then be a string}
   */
  text?: (item: T) => string;
  /** Called as each batch is emitted, before it is embedded: for logging. */
  onBatch?: (batch: Batch<T>) => void;
  /** Stops the whole run: no new calls, the in-flight call aborted, `runPipeline` rejects with `signal.reason`. */
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
 * Stage 3, the embedder: embeds each batch from `batches` and sends it, with
 * its vectors, to `output`; closes `output` when `batches` ends. A response
 * with a different number of vectors than texts fails the stage: a vector is
 * never paired with the wrong input.
 *
 * @typeParam T The type of the inputs.
 * @param batches Where batches come from.
 * @param output Where embedded batches go.
 * @param embedder Turns texts into vectors.
 * @param text Extracts the text from an input.
 * @param options Cancellation and a batch hook.
 * @returns A promise that resolves with the number of embedder calls made.
 * @throws {RangeError} If the embedder returns the wrong number of vectors.
 *
 * @example Usage
 * ```ts
 * import { embedBatches, type EmbeddedBatch } from "./pipeline.ts";
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
 * const embedder = { embed: (texts: readonly string[]) => Promise.resolve(texts.map((t) => [t.length])) };
 * const calls = await embedBatches(batches, output, embedder, (s) => s);
 * assert.equal(calls, 2);
 * const embedded = await Array.fromAsync(output);
 * assert.deepEqual(embedded.map((e) => e.embeddings), [[[1], [2]], [[3]]]);
 * ```
 */
export async function embedBatches<T>(
  batches: Channel<Batch<T>>,
  output: Channel<EmbeddedBatch<T>>,
  embedder: Embedder,
  text: (item: T) => string,
  options?: EmbedStageOptions<T>,
): Promise<number> {
  const signal = options?.signal;
  const waitOptions = signal ? { signal } : undefined;
  let calls = 0;
  const feedback = options?.feedback;
  let offset = 0;
  for await (const batch of batches.values(waitOptions)) {
    signal?.throwIfAborted();
    options?.onBatch?.(batch);
    const texts = batch.items.map(text);
    calls++;
    // One call at a time: the stage is saturated from now until it is free to take the next batch.
    feedback?.setBackpressure(true);
    const startedAt = feedback ? now() : 0;
    const embeddings = await embedder.embed(texts, waitOptions);
    feedback?.observeCall({ latencyMs: now() - startedAt, items: texts.length });
    if (embeddings.length !== texts.length) {
      throw new RangeError(
        `Cannot pair embeddings with inputs: expected ${texts.length} vectors for batch ${batch.index}, received ${embeddings.length}`,
      );
    }
    await output.send({ batch, offset, texts, embeddings }, waitOptions);
    offset += texts.length;
    feedback?.setBackpressure(false);
  }
  output.close();
  return calls;
}

/**
 * Stage 4, the output writer: hands every input with its vector to `write`,
 * in input order, until `embedded` is closed and drained.
 *
 * @typeParam T The type of the inputs.
 * @param embedded Where embedded batches come from.
 * @param write Receives each input with its vector; its promise, if any, is awaited.
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
 * await embedded.send({ batch, offset: 0, texts: ["x"], embeddings: [[0.5]] });
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
    const { batch, offset, texts, embeddings } of embedded.values(signal ? { signal } : undefined)
  ) {
    for (let i = 0; i < batch.items.length; i++) {
      signal?.throwIfAborted();
      const pending = write({
        item: batch.items[i] as T,
        text: texts[i] as string,
        index: offset + i,
        batch,
        embedding: embeddings[i] as number[],
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

/**
 * Runs the four stages — input enqueuer → batcher → embedder → output writer —
 * each linked to the next by a bounded channel whose `close()` marks the end of
 * the stream. Resolves when every input has been written. If any stage fails,
 * the others are aborted (nothing hangs) and the run rejects with that error.
 *
 * @typeParam T The type of the inputs.
 * @param options Inputs, embedder, writer and batching.
 * @returns What the run did.
 * @throws {RangeError} If the batching options are invalid.
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
 *   write: ({ text, embedding }) => void out.push(`${text}:${embedding}`),
 * });
 * assert.deepEqual(out, ["a:1", "bb:2", "ccc:3"]);
 * assert.equal(summary.items, 3);
 * assert.equal(summary.calls, 2);
 * ```
 */
export async function runPipeline<T>(options: PipelineOptions<T>): Promise<PipelineSummary> {
  const batchSize = options.batchSize ?? 100;
  const batcher = new Batcher<T>({
    batchSize,
    timeout: options.timeout ?? 1000,
    ...(options.strategy ? { strategy: options.strategy } : {}),
  });
  const text = options.text ?? defaultText;
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

  const inputs = new Channel<T>(batchSize);
  const emitted = new Channel<Batch<T>>(1);
  const embedded = new Channel<EmbeddedBatch<T>>(1);
  const onBatch = (batch: Batch<T>) => {
    batches.total++;
    batches[batch.reason]++;
    options.onBatch?.(batch);
  };

  const stages = [
    guard(enqueue(options.inputs, inputs, { signal })),
    guard(batcher.batch(inputs, emitted, { signal })),
    guard(embedBatches(emitted, embedded, options.embedder, text, {
      signal,
      onBatch,
      ...(batcher.strategy === "adaptive" ? { feedback: batcher } : {}),
    })),
    guard(writeOutputs(embedded, options.write, { signal })),
  ] as const;
  const settled = await Promise.allSettled(stages);
  if (failure) throw failure.error;

  const calls = settled[2].status === "fulfilled" ? settled[2].value : 0;
  const items = settled[3].status === "fulfilled" ? settled[3].value : 0;
  return { items, batches, calls, elapsedMs: now() - startedAt };
}
