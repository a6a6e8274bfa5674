import assert from "node:assert/strict";
import { normalize } from "./normalize.ts";

Deno.test("normalize scales a vector to unit length without changing its direction", () => {
  const vector = [0.5, -2, 7, 0.25];
  const unit = normalize(vector);
  const norm = Math.hypot(...unit);
  assert.ok(Math.abs(norm - 1) < 1e-12, `norm ${norm}`);
  unit.forEach((value, i) =>
    assert.ok(Math.abs(value * Math.hypot(...vector) - vector[i]!) < 1e-12)
  );
  assert.deepEqual(vector, [0.5, -2, 7, 0.25], "the input is not modified");
});

Deno.test("normalize leaves a unit vector as it is and the zero vector unchanged", () => {
  const unit = [0.6, 0.8];
  assert.deepEqual(normalize(unit), unit);
  assert.deepEqual(normalize([0, 0, 0]), [0, 0, 0]);
  assert.deepEqual(normalize([]), []);
});

/**
 * A deterministic unit vector of `dimensions` values normalised in float32
 * arithmetic, as the API may compute and send it: unit length only to float32
 * precision.
 */
function float32UnitVector(dimensions: number): number[] {
  const raw = Array.from({ length: dimensions }, (_, i) => Math.fround(Math.sin(i * 12.9898 + 1)));
  let sumOfSquares = 0;
  for (const value of raw) sumOfSquares = Math.fround(sumOfSquares + Math.fround(value * value));
  const norm = Math.fround(Math.sqrt(sumOfSquares));
  return raw.map((value) => Math.fround(value / norm));
}

Deno.test("normalize keeps the API's float32 unit vectors bit for bit", async (t) => {
  for (const dimensions of [8, 768, 3072]) {
    await t.step(`${dimensions} values`, () => {
      const vector = float32UnitVector(dimensions);
      const norm = Math.hypot(...vector);
      assert.ok(Math.abs(norm - 1) > 1e-8, `float32 rounding leaves it off unit length: ${norm}`);
      assert.deepEqual(normalize(vector), vector);
    });
  }
});

Deno.test("normalize scales a vector whose norm is 1e-4 from 1", () => {
  for (const factor of [1 - 1e-4, 1 + 1e-4]) {
    const vector = float32UnitVector(3072).map((value) => value * factor);
    const unit = normalize(vector);
    assert.notDeepEqual(unit, vector);
    assert.ok(Math.abs(Math.hypot(...unit) - 1) < 1e-12);
  }
});
