/**
 * An {@linkcode Embedder} that answers from an {@linkcode EmbeddingCache} and
 * sends only the misses upstream.
 *
 * @module
 */

import type { Embedder, EmbedOptions } from "../embedder.ts";
import { EmbeddingCountError } from "../errors.ts";
import type { EmbeddingCache } from "./embedding_cache.ts";
import { cacheKey, type CacheKeyContext } from "./key.ts";

/** What a {@linkcode CachedEmbedder} has done. */
export interface CachedEmbedderStats {
  /** Texts answered from the cache. */
  hits: number;
  /** Texts not in the cache. */
  misses: number;
  /** Texts sent upstream: the misses less repeats within a call. */
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
  }

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
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    options.signal?.throwIfAborted();
    const keys = texts.map((text) => cacheKey(this.#context, text));
    const found = this.#cache.getMany(keys);
    const vectors: (number[] | undefined)[] = found.map((v) => v && Array.from(v));
    // Each distinct missing text once, with every position it fills.
    const missing = new Map<string, number[]>();
    found.forEach((vector, i) => {
      if (vector !== undefined) return;
      const text = texts[i]!;
      const positions = missing.get(text);
      if (positions) positions.push(i);
      else missing.set(text, [i]);
    });
    this.#stats.hits += texts.length - countMissing(missing);
    this.#stats.misses += countMissing(missing);
    if (missing.size === 0) return vectors as number[][];

    const upstreamTexts = [...missing.keys()];
    this.#stats.upstreamCalls++;
    this.#stats.upstreamTexts += upstreamTexts.length;
    const embedded = await this.#inner.embed(upstreamTexts, options);
    if (embedded.length !== upstreamTexts.length) {
      throw new EmbeddingCountError(upstreamTexts.length, embedded.length);
    }
    const entries = upstreamTexts.map((text, j) => {
      const rounded = Float32Array.from(embedded[j]!);
      const positions = missing.get(text)!;
      for (const i of positions) vectors[i] = Array.from(rounded);
      return { key: keys[positions[0]!]!, vector: rounded };
    });
    this.#cache.putMany(entries);
    return vectors as number[][];
  }
}

function countMissing(missing: Map<string, number[]>): number {
  let count = 0;
  for (const positions of missing.values()) count += positions.length;
  return count;
}
