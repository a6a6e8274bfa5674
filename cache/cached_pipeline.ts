/**
 * {@linkcode runCachedPipeline}: the embedding pipeline with a cache lookup in
 * front of the batcher, so that cached texts never take a batch slot.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { Deque } from "../internal/deque.ts";
import { Notifier } from "../internal/notifier.ts";
import { type PipelineOptions, type PipelineSummary, runPipeline } from "../pipeline.ts";
import type { EmbeddingResult } from "../resilience/resilient_embedder.ts";
import type { CacheEntry, EmbeddingCache } from "./embedding_cache.ts";
import { cacheKey, type CacheKeyContext, keyToHex } from "./key.ts";

/**
 * One input with its result, as handed to
 * {@linkcode CachedPipelineOptions.write}, in input order.
 *
 * @typeParam T The type of the inputs.
 */
export type CachedItem<T> = EmbeddingResult & {
  /** The input as it was given. */
  item: T;
  /** The text that was embedded. */
  text: string;
  /** The input's 0-based position in the input stream. */
  index: number;
  /** Whether the vector came from the cache (no upstream call). */
  cached: boolean;
  /** Whether the input shared the call of an identical text before it (no batch slot of its own). */
  shared: boolean;
  /** The input's cache key (also for inputs that failed). */
  key: Uint8Array;
};

/**
 * Options of {@linkcode runCachedPipeline}: those of `runPipeline` but for
 * `write`, plus the cache.
 *
 * @typeParam T The type of the inputs.
 */
export interface CachedPipelineOptions<T> extends Omit<PipelineOptions<T>, "write" | "text"> {
  /**
   * Extracts the text to embed from an input (the cache keys texts; contents
   * with media are not cached).
   *
   * @default {the input itself, which must then be a string}
   */
  text?: (item: T) => string;
  /** The cache to read and fill; the caller opens and closes it. */
  cache: EmbeddingCache;
  /** The model, dimensions, task type and title the embedder embeds with. */
  context: CacheKeyContext;
  /**
   * Receives each input with its result, in input order; may be async (its
   * promise is awaited: backpressure).
   */
  write: (output: CachedItem<T>) => void | Promise<void>;
  /**
   * Inputs looked up in the cache per read transaction.
   *
   * @default {256}
   */
  lookupBatch?: number;
  /**
   * The most bytes of cached vectors held in memory while they wait behind an
   * input still being embedded (outputs are written in input order). When
   * reached, reading pauses until that input is written: with a finite
   * `timeout` the batcher sends it within `timeout`.
   *
   * @default {67108864}
   */
  maxHeldBytes?: number;
}

/** What {@linkcode runCachedPipeline} did: the upstream pipeline's summary and the cache's counts. */
export interface CachedPipelineSummary extends PipelineSummary {
  /** Inputs answered from the cache. */
  hits: number;
  /** Inputs not in the cache. */
  misses: number;
  /** Misses that shared the call of an identical text in flight (no slot of their own). */
  shared: number;
}

/** An input between its lookup and its write. */
interface Slot<T> {
  item: T;
  text: string;
  index: number;
  key: Uint8Array;
  shared: boolean;
  vector?: Float32Array | undefined;
  result?: EmbeddingResult;
  /** Misses with the same key that wait for this one's result. */
  followers?: Slot<T>[];
}

/**
 * Runs `runPipeline` over the inputs the cache cannot answer. Each input is
 * looked up first (in batches of `lookupBatch`, one read transaction each):
 * hits are written at once, in their place in the input order, without
 * taking a batch slot; misses go through the batcher and the embedder; a miss
 * whose text is already in flight waits for that one's vector instead of
 * taking a slot of its own. New vectors (not truncated ones, not errors) are
 * written to the cache in batches.
 *
 * Vectors are rounded to float32, what the cache holds, whether they were
 * hits or not, so that an output never depends on the cache's state.
 *
 * @typeParam T The type of the inputs.
 * @param options The pipeline's options, the cache and the key context.
 * @returns The pipeline's summary with the hits, misses and shared misses.
 * @throws {RangeError} If `lookupBatch` or `maxHeldBytes` is not a positive integer.
 *
 * @example A second run over the same texts makes no call
 * ```ts
 * import { EmbeddingCache, runCachedPipeline } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const lengths = { embed: (t: readonly string[]) => Promise.resolve(t.map((s) => [s.length])) };
 * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/cache.sqlite`);
 * const run = async (inputs: string[]) => {
 *   const out: string[] = [];
 *   const summary = await runCachedPipeline({
 *     inputs, embedder: lengths, cache, context: { model: "lengths" }, timeout: 10,
 *     write: (r) => void out.push(`${r.text}:${r.embedding}:${r.cached ? "hit" : "miss"}`),
 *   });
 *   return { out, calls: summary.calls, hits: summary.hits };
 * };
 * assert.deepEqual(await run(["a", "bb"]), { out: ["a:1:miss", "bb:2:miss"], calls: 1, hits: 0 });
 * assert.deepEqual(await run(["a", "ccc", "bb"]), {
 *   out: ["a:1:hit", "ccc:3:miss", "bb:2:hit"], calls: 1, hits: 2,
 * });
 * ```
 */
export async function runCachedPipeline<T>(
  options: CachedPipelineOptions<T>,
): Promise<CachedPipelineSummary> {
  const {
    cache,
    context,
    write,
    lookupBatch = 256,
    maxHeldBytes = 64 * 1024 * 1024,
    inputs: _inputs,
    text: _text,
    onBatch: _onBatch,
    ...pipelineOptions
  } = options;
  for (const [name, value] of [["lookupBatch", lookupBatch], ["maxHeldBytes", maxHeldBytes]]) {
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new RangeError(
        `Cannot run cached pipeline: ${name} must be a positive integer, received ${value}`,
      );
    }
  }
  const textOf = options.text ?? defaultText;
  const counts = { hits: 0, misses: 0, shared: 0 };
  const timeout = options.timeout ?? 1000;
  // Waiting for the head input is safe only if the batcher sends it by itself.
  const canWait = typeof timeout === "string" || Number.isFinite(timeout);

  // Every input from lookup to write, in input order.
  const order = new Deque<Slot<T>>();
  let heldBytes = 0;
  const drained = new Notifier();
  // Ends a wait for `drained` when the run stops: the caller's signal, or a
  // failed write (after which nothing drains). Without it a reader waiting
  // here would keep the pipeline's input stage, and so the run, from ending.
  const stopped = new AbortController();
  const waitSignal = options.signal
    ? AbortSignal.any([options.signal, stopped.signal])
    : stopped.signal;
  const inFlight = new Map<string, Slot<T>>();
  const puts: CacheEntry[] = [];

  // Writes the ready slots at the head of `order`, one drain at a time.
  let draining = false;
  let drainDone: Promise<void> = Promise.resolve();
  const drain = async () => {
    try {
      for (let slot = order.peek(); slot && isReady(slot); slot = order.peek()) {
        order.shift();
        if (slot.result === undefined) heldBytes -= slot.vector!.byteLength;
        await write(toOutput(slot));
        drained.notify();
      }
    } finally {
      draining = false;
    }
  };
  const pump = (): Promise<void> => {
    if (!draining) {
      draining = true;
      drainDone = drain();
    }
    return drainDone;
  };

  async function* misses(): AsyncGenerator<Slot<T>> {
    let index = 0;
    const chunk: Slot<T>[] = [];
    const lookUp = function* (): Generator<Slot<T>> {
      const found = cache.getMany(chunk.map((slot) => slot.key));
      for (let i = 0; i < chunk.length; i++) {
        const slot = chunk[i]!;
        const vector = found[i];
        order.push(slot);
        if (vector !== undefined) {
          counts.hits++;
          slot.vector = vector;
          heldBytes += vector.byteLength;
          continue;
        }
        counts.misses++;
        const id = keyToHex(slot.key);
        const leader = inFlight.get(id);
        if (leader) {
          counts.shared++;
          slot.shared = true;
          (leader.followers ??= []).push(slot);
          continue;
        }
        inFlight.set(id, slot);
        yield slot;
      }
      chunk.length = 0;
    };
    const source = fromIterable(options.inputs);
    try {
      let next: Promise<IteratorResult<T>> | undefined;
      for (;;) {
        next ??= source.next();
        // A partial chunk is looked up as soon as the source makes us wait,
        // so that a slow stream's inputs are not held back for company.
        const result = chunk.length === 0 ? await next : await Promise.race([next, macrotask()]);
        if (result !== NOT_READY) next = undefined;
        if (result !== NOT_READY && !result.done) {
          const text = textOf(result.value);
          const key = cacheKey(context, text);
          chunk.push({ item: result.value, text, index: index++, key, shared: false });
          if (chunk.length < lookupBatch) continue;
        }
        yield* lookUp();
        await pump();
        if (result !== NOT_READY && result.done) return;
        while (canWait && heldBytes > maxHeldBytes && order.length > 0) {
          await drained.wait(waitSignal);
        }
      }
    } finally {
      // Not awaited: with a read still pending, return() waits for it to settle.
      source.return(undefined).catch(() => {});
    }
  }

  const flushPuts = () => {
    if (puts.length > 0) cache.putMany(puts.splice(0));
  };
  let summary: PipelineSummary;
  try {
    const { onBatch } = options;
    summary = await runPipeline<Slot<T>>({
      ...pipelineOptions,
      inputs: misses(),
      ...(onBatch && {
        onBatch: (batch) => onBatch({ ...batch, items: batch.items.map((s) => s.item) }),
      }),
      text: (slot) => slot.text,
      write: (out) => {
        const slot = out.item;
        inFlight.delete(keyToHex(slot.key));
        const result: EmbeddingResult = out.ok
          ? { ok: true, embedding: out.embedding, truncated: out.truncated }
          : { ok: false, error: out.error };
        if (out.ok) {
          slot.vector = Float32Array.from(out.embedding);
          if (!out.truncated) puts.push({ key: slot.key, vector: slot.vector });
          if (puts.length >= PUT_BATCH) flushPuts();
        }
        for (const follower of [slot, ...(slot.followers ?? [])]) {
          follower.result = result;
          follower.vector = slot.vector;
        }
        return pump().catch((error) => {
          stopped.abort(error);
          throw error;
        });
      },
    });
    await pump();
  } finally {
    flushPuts();
  }
  return { ...summary, ...counts };
}

/**
 * New vectors written to the cache per transaction. Larger batches rewrite
 * fewer index pages per vector; a process killed mid-run loses at most this
 * many (they are embedded again next time).
 */
const PUT_BATCH = 1024;

const NOT_READY = Symbol("not ready");

/** Resolves with `NOT_READY` after the pending I/O callbacks and microtasks have run. */
function macrotask(): Promise<typeof NOT_READY> {
  return new Promise((resolve) => setImmediate(() => resolve(NOT_READY)));
}

async function* fromIterable<T>(inputs: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  yield* inputs;
}

function isReady<T>(slot: Slot<T>): boolean {
  return slot.result !== undefined || slot.vector !== undefined;
}

function toOutput<T>(slot: Slot<T>): CachedItem<T> {
  const { item, text, index, key, shared } = slot;
  const base = { item, text, index, key, shared, cached: slot.result === undefined };
  if (slot.result === undefined || slot.result.ok) {
    return {
      ...base,
      ok: true,
      embedding: Array.from(slot.vector!),
      truncated: slot.result?.truncated ?? false,
    };
  }
  return { ...base, ok: false, error: slot.result.error };
}

function defaultText<T>(item: T): string {
  if (typeof item !== "string") {
    throw new TypeError(
      `Cannot embed input: expected a string (or pass a text option), received ${typeof item}`,
    );
  }
  return item;
}
