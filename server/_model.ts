// Internal: everything the server knows about models, in one place so that it
// can move onto the model profiles (gemini/models.ts) when they land.

/** The most values Gemini embedding models return per vector. */
export const MAX_DIMENSIONS = 3072;

/** The model name without the `models/` prefix. */
export function bareModel(name: string): string {
  return name.startsWith("models/") ? name.slice("models/".length) : name;
}

/**
 * The most input tokens per text: 8,192 for gemini-embedding-2 (and its
 * previews), 2,048 for gemini-embedding-001 and any other model.
 */
export function maxInputTokens(model: string): number {
  return bareModel(model).startsWith("gemini-embedding-2") ? 8192 : 2048;
}
