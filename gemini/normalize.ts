/**
 * L2 normalisation of embedding vectors.
 *
 * @module
 */

const UNIT_TOLERANCE = 1e-9;

/**
 * Scales `vector` to unit length (L2 norm 1), returning a new array.
 *
 * A vector already unit length (within 1e-9, float rounding) comes back with
 * exactly its values, as does the zero vector, which has no direction.
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
  // Already unit length (the API normalised it): keep the values bit for bit.
  if (norm === 0 || !Number.isFinite(norm) || Math.abs(norm - 1) < UNIT_TOLERANCE) {
    return [...vector];
  }
  return vector.map((value) => value / norm);
}
