/**
 * Gemini embedding task types, shared by the embedder, the CLI and the simulator.
 *
 * @module
 */

/**
 * The task types Gemini embedding models accept, each tuning the vector for one use.
 *
 * @example Usage
 * ```ts
 * import { GEMINI_TASK_TYPES } from "./task_types.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(GEMINI_TASK_TYPES.includes("RETRIEVAL_DOCUMENT"));
 * ```
 */
export const GEMINI_TASK_TYPES = [
  "RETRIEVAL_QUERY",
  "RETRIEVAL_DOCUMENT",
  "SEMANTIC_SIMILARITY",
  "CLASSIFICATION",
  "CLUSTERING",
  "QUESTION_ANSWERING",
  "FACT_VERIFICATION",
  "CODE_RETRIEVAL_QUERY",
] as const;

/** One of {@linkcode GEMINI_TASK_TYPES}. */
export type GeminiTaskType = typeof GEMINI_TASK_TYPES[number];
