/**
 * L2 normalisation of embedding vectors.
 *
 * @module
 */

/**
 * Scales `vector` to unit length (L2 norm 1), returning a new array.
 *
 * A vector that is already unit length comes back with the same values up to
 * rounding; the zero vector, which has no direction, comes back unchanged.
 *
 * @param vector The values.
 * @returns The unit-length vector.
 *
 * @example Usage
 * ```ts
 * import { normalize } from "./normalize.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(normalize([3, 4]), [0.6, 0.8]);
 * assert.deepEqual(normalize([0, 0]), [0, 0]);
 * ```
 */
export function normalize(vector: readonly number[]): number[] {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm === 0 || !Number.isFinite(norm)) return [...vector];
  return vector.map((value) => value / norm);
}
