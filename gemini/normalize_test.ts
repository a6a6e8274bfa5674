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
