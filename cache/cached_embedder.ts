/**
 * An {@linkcode Embedder} that answers from an {@linkcode EmbeddingCache} and
 * sends only the misses upstream.
 *
 * @module
 */

import type { Embedder, EmbedInput, EmbedOptions } from "../embedder.ts";
import { EmbeddingCountError } from "../errors.ts";
import type { CacheEntry, EmbeddingCache } from "./embedding_cache.ts";
import { type CacheKeyContext, inputKey, keyToHex } from "./key.ts";
import { apiFloats } from "../internal/float32.ts";

/** What a {@linkcode CachedEmbedder} has done. */
export interface CachedEmbedderStats {
  /** Inputs answered from the cache. */
  hits: number;
  /** Inputs not in the cache (contents with media included). */
  misses: number;
  /** Inputs sent upstream: the misses less repeats within a call. */
  upstreamTexts: number;
  /** Calls made upstream (a call whose texts were all hits makes none). */
  upstreamCalls: number;
}

/**
 * Wraps an {@linkcode Embedder} with a cache: texts already in the cache are
 * answered at once, the others are sent upstream in one call (a text repeated
 * within the call is sent once), and their vectors are written back.
 *
 * `context` must describe what the wrapped embedder was built with (model,
 * dimensions, task type, title): it is part of every key, so one cache file
 * can serve several models without mixing their vectors.
 *
 * Every vector returned is rounded to float32, what the cache stores, so that
 * a result never depends on whether it was a hit.
 *
 * @example Only misses go upstream
 * ```ts
 * import { CachedEmbedder, EmbeddingCache } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const sent: string[][] = [];
 * const upstream = {
 *   embed: (texts: readonly string[]) => {
 *     sent.push([...texts]);
 *     return Promise.resolve(texts.map((t) => [t.length, 0.5]));
 *   },
 * };
 * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/cache.sqlite`);
 * const embedder = new CachedEmbedder(upstream, cache, { model: "m", dimensions: 2 });
 * await embedder.embed(["a", "bb"]);
 * assert.deepEqual(await embedder.embed(["bb", "ccc", "ccc"]), [[2, 0.5], [3, 0.5], [3, 0.5]]);
 * assert.deepEqual(sent, [["a", "bb"], ["ccc"]]);
 * assert.deepEqual(embedder.stats, { hits: 1, misses: 4, upstreamTexts: 3, upstreamCalls: 2 });
 * ```
 */
export class CachedEmbedder implements Embedder {
  #inner: Embedder;
  #cache: EmbeddingCache;
  #context: CacheKeyContext;
  #stats: CachedEmbedderStats = { hits: 0, misses: 0, upstreamTexts: 0, upstreamCalls: 0 };

  /**
   * Creates the embedder; nothing is read until {@linkcode CachedEmbedder.embed}.
   *
   * @param inner The embedder to send misses to.
   * @param cache The cache to read and fill; the caller closes it.
   * @param context The model, dimensions, task type and title `inner` embeds with.
   */
  constructor(inner: Embedder, cache: EmbeddingCache, context: CacheKeyContext) {
    this.#inner = inner;
    this.#cache = cache;
    this.#context = { ...context };
    // What the wrapped embedder tells its callers, it tells them too.
    const contents = inner.embedContents;
    if (contents !== undefined) {
      this.embedContents = (inputs, options = {}) =>
        this.#embed(inputs, options, (sent) => contents.call(inner, sent, options));
    }
    if (inner.maxInputTokens !== undefined) this.maxInputTokens = inner.maxInputTokens;
    if (inner.inputTokens !== undefined) this.inputTokens = inner.inputTokens.bind(inner);
    if (inner.callGroup !== undefined) this.callGroup = inner.callGroup.bind(inner);
  }

  /**
   * Embeds texts and contents (present when the wrapped embedder has
   * `embedContents`): a content's own task type and title are part of its
   * key; a content with media is never cached, always sent upstream.
   */
  readonly embedContents?: (
    inputs: readonly EmbedInput[],
    options?: EmbedOptions,
  ) => Promise<number[][]>;
  /** The wrapped embedder's `maxInputTokens`. */
  readonly maxInputTokens?: number;
  /** The wrapped embedder's `inputTokens`. */
  readonly inputTokens?: (input: EmbedInput) => number;
  /** The wrapped embedder's `callGroup`. */
  readonly callGroup?: (input: EmbedInput) => string;

  /** What this embedder has done so far (a copy). */
  get stats(): CachedEmbedderStats {
    return { ...this.#stats };
  }

  /**
   * Embeds `texts`: hits from the cache, misses in one upstream call.
   *
   * @param texts The texts to embed.
   * @param options Cancellation, passed upstream.
   * @returns One vector per text, in order, rounded to float32.
   * @throws {CacheFileError} If the cache file is damaged.
   *
   * @example A call of only hits makes no upstream call
   * ```ts
   * import { CachedEmbedder, EmbeddingCache } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * let calls = 0;
   * const upstream = { embed: (t: readonly string[]) => (calls++, Promise.resolve(t.map(() => [1]))) };
   * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/cache.sqlite`);
   * const embedder = new CachedEmbedder(upstream, cache, { model: "m" });
   * await embedder.embed(["x"]);
   * await embedder.embed(["x", "x"]);
   * assert.equal(calls, 1);
   * ```
   */
  embed(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    return this.#embed(texts, options, (sent) => this.#inner.embed(sent as string[], options));
  }

  async #embed(
    inputs: readonly EmbedInput[],
    options: EmbedOptions,
    send: (inputs: EmbedInput[]) => Promise<number[][]>,
  ): Promise<number[][]> {
    options.signal?.throwIfAborted();
    const keys = inputs.map((input) => inputKey(this.#context, input));
    const keyed = keys.flatMap((key) => key === undefined ? [] : [key]);
    const found = this.#cache.getMany(keyed);
    const vectors: (number[] | undefined)[] = new Array(inputs.length);
    // Each distinct missing input once (by key; one without a key each time),
    // with every position it fills.
    const missing = new Map<string | number, number[]>();
    let at = 0;
    keys.forEach((key, i) => {
      const vector = key === undefined ? undefined : found[at++];
      if (vector !== undefined) {
        vectors[i] = apiFloats(vector);
        return;
      }
      const id = key === undefined ? i : keyToHex(key);
      const positions = missing.get(id);
      if (positions) positions.push(i);
      else missing.set(id, [i]);
    });
    const misses = countMissing(missing);
    this.#stats.hits += inputs.length - misses;
    this.#stats.misses += misses;
    if (missing.size === 0) return vectors as number[][];

    const sent = [...missing.values()];
    this.#stats.upstreamCalls++;
    this.#stats.upstreamTexts += sent.length;
    const embedded = await send(sent.map((positions) => inputs[positions[0]!]!));
    if (embedded.length !== sent.length) {
      throw new EmbeddingCountError(sent.length, embedded.length);
    }
    const entries: CacheEntry[] = [];
    sent.forEach((positions, j) => {
      const rounded = Float32Array.from(embedded[j]!);
      for (const i of positions) vectors[i] = apiFloats(rounded);
      const key = keys[positions[0]!];
      if (key !== undefined) entries.push({ key, vector: rounded });
    });
    this.#cache.putMany(entries);
    return vectors as number[][];
  }
}

function countMissing(missing: Map<string | number, number[]>): number {
  let count = 0;
  for (const positions of missing.values()) count += positions.length;
  return count;
}
