/**
 * The Gemini embedding client: {@linkcode GeminiEmbedder} over
 * `@google/genai`, one `Content` per text, and Gemini's task types.
 *
 * @example Embedding two texts against the local simulator
 * ```ts
 * import { GeminiEmbedder } from "./mod.ts";
 * import { startSimulator } from "../simulator/mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const embedder = new GeminiEmbedder({ apiKey: "k", baseUrl: simulator.url, outputDimensionality: 4 });
 * const vectors = await embedder.embed(["alpha", "beta"]);
 * assert.equal(vectors.length, 2);
 * assert.equal(vectors[0]!.length, 4);
 * ```
 *
 * @module
 */

export * from "./embedder.ts";
export * from "./task_types.ts";
export * from "./models.ts";
export * from "./parts.ts";
export * from "./request.ts";
export * from "./normalize.ts";
export * from "./media_files.ts";
