/**
 * {@linkcode runCachedPipeline}: the embedding pipeline with a cache lookup in
 * front of the batcher, so that cached texts never take a batch slot.
 *
 * @module
 */

import {
  type EmbeddedItem,
  type PipelineOptions,
  type PipelineSummary,
  runPipeline,
} from "../pipeline.ts";
import type { EmbeddingResult } from "../resilience/resilient_embedder.ts";
import type { CacheEntry, EmbeddingCache } from "./embedding_cache.ts";
import { type CacheKeyContext, inputKey, keyToHex } from "./key.ts";
import { chunks } from "./_chunks.ts";
import { OrderedOutput } from "./_ordered_output.ts";
import { type EmbedInput, inputText } from "../embedder.ts";
import { apiFloats } from "../internal/float32.ts";

/**
 * One input with its result, as handed to
 * {@linkcode CachedPipelineOptions.write}, in input order.
 *
 * @typeParam T The type of the inputs.
 */
export type CachedItem<T> = EmbeddingResult & {
  /** The input as it was given. */
  item: T;
  /** The text that was embedded (a content's `text`). */
  text: string;
  /** What was embedded: the text, or the content. */
  input: EmbedInput;
  /** The input's 0-based position in the input stream. */
  index: number;
  /** Whether the vector came from the cache (no upstream call). */
  cached: boolean;
  /** Whether the input shared the call of an identical text before it (no batch slot of its own). */
  shared: boolean;
  /** The input's cache key (also for inputs that failed); `undefined` for a content with media. */
  key: Uint8Array | undefined;
};

/**
 * Options of {@linkcode runCachedPipeline}: those of `runPipeline` but for
 * `write`, plus the cache.
 *
 * @typeParam T The type of the inputs.
 */
export interface CachedPipelineOptions<T> extends Omit<PipelineOptions<T>, "write" | "text"> {
  /**
   * Extracts what to embed from an input: a text, or a content (keyed with
   * its own task type and title; a content with media is never cached).
   *
   * @default {the input itself, which must then be a string}
   */
  text?: (item: T) => EmbedInput;
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
  input: EmbedInput;
  index: number;
  key: Uint8Array | undefined;
  shared: boolean;
  /** Bytes of a hit's vector held until it is written; 0 for a miss. */
  held: number;
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
export function runCachedPipeline<T>(
  options: CachedPipelineOptions<T>,
): Promise<CachedPipelineSummary> {
  for (const name of ["lookupBatch", "maxHeldBytes"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      return Promise.reject(
        new RangeError(
          `Cannot run cached pipeline: ${name} must be a positive integer, received ${value}`,
        ),
      );
    }
  }
  return new CachedRun(options).run();
}

/**
 * New vectors written to the cache per transaction. Larger batches rewrite
 * fewer index pages per vector; a process killed mid-run loses at most this
 * many (they are embedded again next time).
 */
const PUT_BATCH = 1024;

/** One run of {@linkcode runCachedPipeline}. */
class CachedRun<T> {
  readonly #options: CachedPipelineOptions<T>;
  readonly #counts = { hits: 0, misses: 0, shared: 0 };
  readonly #output: OrderedOutput<Slot<T>>;
  /** Misses sent upstream, by key, that later identical misses wait for. */
  readonly #inFlight = new Map<string, Slot<T>>();
  readonly #puts: CacheEntry[] = [];
  /**
   * Ends a wait for written outputs when the run stops: the caller's signal,
   * or a failed write (after which nothing is written). Without it a reader
   * waiting there would keep the pipeline's input stage, and so the run, from
   * ending.
   */
  readonly #stopped = new AbortController();

  constructor(options: CachedPipelineOptions<T>) {
    this.#options = options;
    const write = options.write;
    this.#output = new OrderedOutput(
      (slot) => slot.result !== undefined || slot.vector !== undefined,
      (slot) => write(toOutput(slot)),
    );
  }

  async run(): Promise<CachedPipelineSummary> {
    const {
      cache: _cache,
      context: _context,
      write: _write,
      lookupBatch: _lookupBatch,
      maxHeldBytes: _maxHeldBytes,
      inputs: _inputs,
      text: _text,
      onBatch,
      entryTime,
      ...pipelineOptions
    } = this.#options;
    let summary: PipelineSummary;
    try {
      summary = await runPipeline<Slot<T>>({
        ...pipelineOptions,
        inputs: this.#misses(),
        ...(onBatch && {
          onBatch: (batch) => onBatch({ ...batch, items: batch.items.map((s) => s.item) }),
        }),
        ...(entryTime && { entryTime: (slot) => entryTime(slot.item) }),
        text: (slot) => slot.input,
        write: (out) => this.#embedded(out),
      });
      await this.#output.pump();
    } finally {
      this.#flushPuts();
    }
    return { ...summary, ...this.#counts };
  }

  /** The misses, for the pipeline; hits go straight to the ordered output. */
  async *#misses(): AsyncGenerator<Slot<T>> {
    const { inputs, context, lookupBatch = 256, maxHeldBytes = 64 * 1024 * 1024 } = this.#options;
    const inputOf = this.#options.text ?? defaultText;
    const timeout = this.#options.timeout ?? 1000;
    // Waiting for the head input is safe only if the batcher sends it by itself.
    const canWait = typeof timeout === "string" || Number.isFinite(timeout);
    const signal = this.#options.signal
      ? AbortSignal.any([this.#options.signal, this.#stopped.signal])
      : this.#stopped.signal;
    let index = 0;
    for await (const items of chunks(inputs, lookupBatch)) {
      const slots = items.map((item): Slot<T> => {
        const input = inputOf(item);
        const key = inputKey(context, input);
        return { item, input, index: index++, key, shared: false, held: 0 };
      });
      yield* this.#lookUp(slots);
      await this.#output.pump();
      while (canWait && this.#output.heldBytes > maxHeldBytes && this.#output.length > 0) {
        await this.#output.written(signal);
      }
    }
  }

  /** Looks `slots` up in one read transaction, queues them all, and yields the misses to embed. */
  *#lookUp(slots: Slot<T>[]): Generator<Slot<T>> {
    const counts = this.#counts;
    const found = this.#options.cache.getMany(slots.flatMap((slot) => slot.key ? [slot.key] : []));
    let at = 0;
    for (const slot of slots) {
      const vector = slot.key === undefined ? undefined : found[at++];
      if (vector !== undefined) {
        counts.hits++;
        slot.vector = vector;
        slot.held = vector.byteLength;
        this.#output.push(slot);
        continue;
      }
      counts.misses++;
      this.#output.push(slot);
      if (slot.key === undefined) {
        yield slot; // not cached: never a hit, never shared
        continue;
      }
      const id = keyToHex(slot.key);
      const leader = this.#inFlight.get(id);
      if (leader) {
        counts.shared++;
        slot.shared = true;
        (leader.followers ??= []).push(slot);
        continue;
      }
      this.#inFlight.set(id, slot);
      yield slot;
    }
  }

  /** The pipeline's writer: a miss's result, for it and the misses waiting for it. */
  #embedded(out: EmbeddedItem<Slot<T>>): Promise<void> {
    const slot = out.item;
    if (slot.key !== undefined) this.#inFlight.delete(keyToHex(slot.key));
    const result: EmbeddingResult = out.ok
      ? { ok: true, embedding: out.embedding, truncated: out.truncated }
      : { ok: false, error: out.error };
    if (out.ok) {
      slot.vector = Float32Array.from(out.embedding);
      if (!out.truncated && slot.key) this.#puts.push({ key: slot.key, vector: slot.vector });
      if (this.#puts.length >= PUT_BATCH) this.#flushPuts();
    }
    for (const follower of [slot, ...(slot.followers ?? [])]) {
      follower.result = result;
      follower.vector = slot.vector;
    }
    return this.#output.pump().catch((error) => {
      this.#stopped.abort(error);
      throw error;
    });
  }

  #flushPuts(): void {
    if (this.#puts.length > 0) this.#options.cache.putMany(this.#puts.splice(0));
  }
}

function toOutput<T>(slot: Slot<T>): CachedItem<T> {
  const { item, input, index, key, shared } = slot;
  const text = inputText(input);
  const base = { item, text, input, index, key, shared, cached: slot.result === undefined };
  if (slot.result === undefined || slot.result.ok) {
    return {
      ...base,
      ok: true,
      embedding: apiFloats(slot.vector!),
      truncated: slot.result?.truncated ?? false,
    };
  }
  return { ...base, ok: false, error: slot.result.error };
}

function defaultText<T>(item: T): EmbedInput {
  if (typeof item !== "string") {
    throw new TypeError(
      `Cannot embed input: expected a string (or pass a text option), received ${typeof item}`,
    );
  }
  return item;
}
