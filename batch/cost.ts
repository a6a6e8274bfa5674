/**
 * The estimated cost of a Batch API run's tokens, at the batch price and at
 * the interactive one, from the model profiles' dated prices
 * (`gemini/models.ts`).
 *
 * @module
 */

import { modelProfile } from "../gemini/models.ts";

/** What {@linkcode estimateCost} returns. */
export interface CostEstimate {
  /** US dollars at the Batch API price. */
  batch: number;
  /** US dollars at the interactive (online) price. */
  interactive: number;
  /** Where the prices come from: the profile's date, or `"--price"` for an override. */
  asOf: string;
}

/**
 * Estimates the cost of `tokens` text input tokens on `model`.
 *
 * @param model The model, with or without `models/`.
 * @param tokens Input tokens.
 * @param interactivePrice US dollars per million tokens online, to use instead of the
 * profile's; the batch price is then half of it (Google's Batch API rule).
 * @returns Both costs, or `undefined` for a model without a known price.
 * @throws {RangeError} If `tokens` or `interactivePrice` is negative.
 *
 * @example Ten million tokens
 * ```ts
 * import { estimateCost } from "./cost.ts";
 * import assert from "node:assert/strict";
 *
 * const cost = estimateCost("gemini-embedding-001", 10_000_000)!;
 * assert.equal(cost.batch, 0.75);
 * assert.equal(cost.interactive, 1.5);
 * assert.equal(estimateCost("my-tuned-model", 1), undefined);
 * assert.deepEqual(estimateCost("my-tuned-model", 2_000_000, 1), { batch: 1, interactive: 2, asOf: "--price" });
 * ```
 */
export function estimateCost(
  model: string,
  tokens: number,
  interactivePrice?: number,
): CostEstimate | undefined {
  if (!(tokens >= 0)) {
    throw new RangeError(`Cannot estimate cost: tokens must be non-negative, received ${tokens}`);
  }
  if (interactivePrice !== undefined) {
    if (!(interactivePrice >= 0)) {
      throw new RangeError(
        `Cannot estimate cost: the price must be non-negative, received ${interactivePrice}`,
      );
    }
    return {
      batch: interactivePrice / 2 * tokens / 1e6,
      interactive: interactivePrice * tokens / 1e6,
      asOf: "--price",
    };
  }
  const price = modelProfile(model).price;
  if (price === undefined || price.batchText === undefined) return undefined;
  return {
    batch: price.batchText * tokens / 1e6,
    interactive: price.text * tokens / 1e6,
    asOf: price.asOf,
  };
}
