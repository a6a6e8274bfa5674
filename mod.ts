/**
 * embatch: batch a stream of texts into calls to the Gemini Embedding API,
 * fast, within Google's limits, and without losing or misaligning a vector.
 *
 * - {@linkcode Channel}: a bounded async queue whose `close()` ends the stream.
 * - {@linkcode Batcher}: emits a batch when it is full or its first item has waited `timeout`.
 * - {@linkcode runPipeline}: input enqueuer → batcher → embedder → output writer.
 * - {@linkcode GeminiEmbedder}: the embedder over `@google/genai`.
 * - {@linkcode ResilientEmbedder}: per-item results within Gemini's limits: quota, retries, bisection.
 * - {@linkcode EmbeddingBatcher}: `await batcher.embed(text)` from many concurrent callers.
 *
 * The local Gemini simulator, for offline runs and tests, is its own entry
 * point (`./simulator`), and the command line is `./cli` (`main.ts`).
 *
 * @example Embedding a stream against the local simulator
 * ```ts
 * import { GeminiEmbedder, runPipeline } from "./mod.ts";
 * import { startSimulator } from "./simulator/mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const embedder = new GeminiEmbedder({
 *   apiKey: "test-key",
 *   baseUrl: simulator.url,
 *   outputDimensionality: 3,
 * });
 * const lines: string[] = [];
 * const summary = await runPipeline({
 *   inputs: ["alpha", "beta", "gamma"],
 *   embedder,
 *   batchSize: 2,
 *   timeout: "100ms",
 *   write: ({ text, embedding }) => void lines.push(`${text} -> ${embedding?.length} dims`),
 * });
 * assert.deepEqual(lines, ["alpha -> 3 dims", "beta -> 3 dims", "gamma -> 3 dims"]);
 * assert.equal(summary.calls, 2);
 * ```
 *
 * @module
 */

export * from "./channel.ts";
export * from "./batcher.ts";
export * from "./adaptive.ts";
export * from "./pipeline.ts";
export * from "./embedder.ts";
export * from "./embedding_batcher.ts";
export * from "./duration.ts";
export * from "./errors.ts";
export * from "./metrics.ts";
export * from "./resilience/mod.ts";
export * from "./gemini/mod.ts";
