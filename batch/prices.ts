/**
 * Prices of Gemini embedding models, per million input tokens, interactive
 * and through the Batch API (half), for the estimated cost in a run's
 * summary. Dated: prices change, so the CLI lets a flag override them.
 *
 * TODO(issue 11): switch to the model profiles of `gemini/models.ts` once
 * they land on main; this small table stands in until then.
 *
 * @module
 */

/** A model's price in US dollars per million input tokens. */
export interface EmbeddingPrice {
  /** Through `embedContent`/`batchEmbedContents`. */
  interactive: number;
  /** Through the Batch API. */
  batch: number;
}

/** When {@linkcode EMBEDDING_PRICES} was last checked against Google's pricing page. */
export const PRICES_AS_OF = "2026-11-28";

/**
 * Text-input prices by model (Google's pricing page; gemini-embedding-001
 * since the Batch API's embeddings launch on 2025-09-10).
 *
 * @example The batch price is half
 * ```ts
 * import { EMBEDDING_PRICES } from "./prices.ts";
 * import assert from "node:assert/strict";
 *
 * const price = EMBEDDING_PRICES["gemini-embedding-001"]!;
 * assert.equal(price.batch * 2, price.interactive);
 * ```
 */
export const EMBEDDING_PRICES: Readonly<Record<string, EmbeddingPrice>> = Object.freeze({
  "gemini-embedding-001": { interactive: 0.15, batch: 0.075 },
  "gemini-embedding-2": { interactive: 0.20, batch: 0.10 },
});

/**
 * Estimates the cost of `tokens` input tokens on `model` at both prices.
 *
 * @param model The model, with or without `models/`.
 * @param tokens Input tokens.
 * @param price A price to use instead of the table's.
 * @returns Dollars at batch and interactive prices, or `undefined` for a model the table lacks.
 * @throws {RangeError} If `tokens` is negative.
 *
 * @example Ten million tokens
 * ```ts
 * import { estimateCost } from "./prices.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(estimateCost("gemini-embedding-001", 10_000_000), { batch: 0.75, interactive: 1.5 });
 * assert.equal(estimateCost("unknown-model", 1), undefined);
 * ```
 */
export function estimateCost(
  model: string,
  tokens: number,
  price?: EmbeddingPrice,
): { batch: number; interactive: number } | undefined {
  if (!(tokens >= 0)) {
    throw new RangeError(`Cannot estimate cost: tokens must be non-negative, received ${tokens}`);
  }
  const known = price ?? EMBEDDING_PRICES[model.replace(/^models\//, "")];
  if (known === undefined) return undefined;
  return { batch: known.batch * tokens / 1e6, interactive: known.interactive * tokens / 1e6 };
}
