import assert from "node:assert/strict";
import { modelProfile } from "../gemini/models.ts";
import { estimateCost } from "./cost.ts";

Deno.test("estimateCost uses the model profile's dated prices", () => {
  const cost = estimateCost("models/gemini-embedding-2", 1_000_000)!;
  const price = modelProfile("gemini-embedding-2").price!;
  assert.equal(cost.interactive, price.text);
  assert.equal(cost.batch, price.batchText);
  assert.equal(cost.asOf, price.asOf);
  assert.ok(cost.batch < cost.interactive);
});

Deno.test("estimateCost takes an interactive price override, batch at half", () => {
  assert.deepEqual(estimateCost("gemini-embedding-001", 4_000_000, 0.5), {
    batch: 1,
    interactive: 2,
    asOf: "--price",
  });
  assert.throws(() => estimateCost("gemini-embedding-001", -1), RangeError);
  assert.throws(() => estimateCost("gemini-embedding-001", 1, -1), RangeError);
});
