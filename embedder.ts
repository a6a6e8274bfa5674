/**
 * The contract between the pipeline and whatever turns texts into vectors.
 *
 * @module
 */

/** Options accepted by {@linkcode Embedder.embed}. */
export interface EmbedOptions {
  /** Cancels the call; an aborted call rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Turns a batch of texts into one vector per text, in the same order.
 *
 * Implementations must either resolve with exactly `texts.length` vectors, the
 * `i`-th belonging to `texts[i]`, or reject: a misaligned vector must never be
 * returned.
 *
 * @example Usage
 * ```ts
 * import type { Embedder } from "./embedder.ts";
 * import assert from "node:assert/strict";
 *
 * const lengths: Embedder = {
 *   embed(texts) {
 *     return Promise.resolve(texts.map((text) => [text.length]));
 *   },
 * };
 * assert.deepEqual(await lengths.embed(["a", "bcd"]), [[1], [3]]);
 * ```
 */
export interface Embedder {
  /**
   * Embeds `texts`, resolving with one vector per text in input order.
   *
   * @param texts The texts to embed.
   * @param options Cancellation.
   * @returns One vector per text.
   */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<number[][]>;
}
