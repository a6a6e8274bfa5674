/**
 * A content-addressed embedding cache on SQLite: unchanged texts are never
 * embedded twice.
 *
 * - {@linkcode EmbeddingCache}: a persistent map from keys to vectors, shared by processes.
 * - {@linkcode cacheKey}: the key of a text under a model, size, task type and title.
 * - {@linkcode CachedEmbedder}: wraps any `Embedder`; only misses go upstream.
 * - {@linkcode runCachedPipeline}: the pipeline with the cache in front of the batcher.
 *
 * @example Caching an embedder
 * ```ts
 * import { CachedEmbedder, EmbeddingCache } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * let upstream = 0;
 * const lengths = {
 *   embed: (texts: readonly string[]) => {
 *     upstream += texts.length;
 *     return Promise.resolve(texts.map((t) => [t.length]));
 *   },
 * };
 * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/cache.sqlite`);
 * const embedder = new CachedEmbedder(lengths, cache, { model: "lengths" });
 * assert.deepEqual(await embedder.embed(["a", "bb"]), [[1], [2]]);
 * assert.deepEqual(await embedder.embed(["bb", "ccc"]), [[2], [3]]);
 * assert.equal(upstream, 3);
 * ```
 *
 * @module
 */

export * from "./key.ts";
export * from "./file_error.ts";
export * from "./embedding_cache.ts";
export * from "./cached_embedder.ts";
export * from "./cached_pipeline.ts";
