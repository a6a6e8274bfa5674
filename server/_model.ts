// Internal: what the server needs to know about models, read from the model
// profiles (gemini/models.ts) so that limits stay in one table.

import { DEFAULT_MODEL, modelProfile } from "../gemini/models.ts";

/**
 * The models `main.ts serve` serves when no `--model` is given: both GA embedding models.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_SERVED_MODELS } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(DEFAULT_SERVED_MODELS, ["gemini-embedding-2", "gemini-embedding-001"]);
 * ```
 */
export const DEFAULT_SERVED_MODELS: readonly string[] = [DEFAULT_MODEL, "gemini-embedding-001"];

/**
 * The largest `outputDimensionality` accepted before asking upstream. Smaller
 * sizes than a model's documented minimum are left for the upstream to judge.
 */
export const MAX_DIMENSIONS = 3072;

/** The model name without the `models/` prefix. */
export function bareModel(name: string): string {
  return name.startsWith("models/") ? name.slice("models/".length) : name;
}

/** The most input tokens per text for `model`, from its profile (2,048 for an unknown model). */
export function maxInputTokens(model: string): number {
  return modelProfile(model).maxInputTokens;
}
