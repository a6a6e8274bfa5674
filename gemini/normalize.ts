/**
 * L2 normalisation of embedding vectors.
 *
 * @module
 */

/**
 * How far from 1 a norm may be for the vector to count as already unit length.
 *
 * The API sends float32 values (`repeated float`), so a vector it normalised
 * is unit length only to float32 precision (u = 2⁻²⁴ ≈ 6e-8): rounding each
 * value to float32 moves the sum of squares by at most 2u relatively, and
 * the API's own float32 sum of squares over up to 3,072 values errs by about
 * √3072·u ≈ 3.3e-6 for recursive summation of such values (⌈log₂ 3072⌉·u ≈
 * 7e-7 for pairwise summation); the norm, its square root, by half that.
 * 1e-5 is above these, so the API's normalised vectors (gemini-embedding-2 at
 * every size, gemini-embedding-001 at 3,072) pass through bit for bit, and
 * far below the shortfall of the vectors that need scaling: the API's
 * gemini-embedding-001 cut to a smaller size (a norm near 0.5 at 768 values;
 * typically 1.6e-4 short of 1 even at 3,071). One that comes closer than
 * 1e-5 is unit length within float32 rounding of its own values.
 */
const UNIT_TOLERANCE = 1e-5;

/**
 * Scales `vector` to unit length (L2 norm 1), returning a new array.
 *
 * A vector already unit length (within 1e-5, float32 rounding of the API's
 * values) comes back with exactly its values, as does the zero vector, which
 * has no direction.
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
 * // Unit length as float32 values are: kept as they are.
 * assert.deepEqual(normalize([0.6000001, 0.8]), [0.6000001, 0.8]);
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
