/**
 * embatch: batch a stream of texts into calls to the Gemini Embedding API,
 * fast, within Google's limits, and without losing or misaligning a vector.
 *
 * - {@linkcode Channel}: a bounded async queue whose `close()` ends the stream.
 * - {@linkcode Batcher}: emits a batch when it is full or its first item has waited `timeout`.
 * - {@linkcode runPipeline}: input enqueuer → batcher → embedder → output writer.
 * - {@linkcode GeminiEmbedder}: the embedder over `@google/genai`.
 * - {@linkcode startSimulator}: a local Gemini embeddings server for offline runs and tests.
 * - {@linkcode ResilientEmbedder}: per-item results within Gemini's limits: quota, retries, bisection.
 * - {@linkcode EmbeddingBatcher}: `await batcher.embed(text)` from many concurrent callers.
 *
 * @example Embedding a stream against the local simulator
 * ```ts
 * import { GeminiEmbedder, runPipeline, startSimulator } from "./mod.ts";
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
export * from "./adaptive.ts";
export * from "./batcher.ts";
export * from "./duration.ts";
export * from "./embedder.ts";
export * from "./pipeline.ts";
export * from "./errors.ts";
export * from "./gemini.ts";
export * from "./task_types.ts";
export * from "./simulator.ts";
export * from "./simulator_client.ts";
export * from "./simulator_flags.ts";
export * from "./tokens.ts";
export * from "./retry.ts";
export * from "./rate_limiter.ts";
export * from "./metrics.ts";
export * from "./resilient_embedder.ts";
export * from "./embedding_batcher.ts";
