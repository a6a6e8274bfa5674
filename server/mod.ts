/**
 * `embatch serve`: one HTTP endpoint that speaks Gemini REST and the
 * OpenAI-compatible embeddings API, and batches the texts of every client
 * into shared upstream calls under one quota.
 *
 * @module
 */

export * from "./handler.ts";
export * from "./listen.ts";
export * from "./upstream.ts";
export type { EmbedContent, Embedder, EmbedInput, EmbedMedia, EmbedOptions } from "../embedder.ts";
export type { BatchStrategy } from "../batcher.ts";
export type { RetryOptions } from "../resilience/retry.ts";
export { GEMINI_TASK_TYPES, type GeminiTaskType } from "../gemini/task_types.ts";
export * from "./tokens.ts";
export { DEFAULT_SERVED_MODELS } from "./_model.ts";
