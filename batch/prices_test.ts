import assert from "node:assert/strict";
import { EMBEDDING_PRICES, estimateCost, PRICES_AS_OF } from "./prices.ts";

Deno.test("estimateCost prices tokens at batch and interactive rates", () => {
  assert.deepEqual(estimateCost("models/gemini-embedding-2", 1_000_000), {
    batch: 0.10,
    interactive: 0.20,
  });
  assert.deepEqual(estimateCost("unlisted", 2_000_000, { interactive: 1, batch: 0.5 }), {
    batch: 1,
    interactive: 2,
  });
  assert.throws(() => estimateCost("gemini-embedding-001", -1), RangeError);
});

Deno.test("The price table is dated and the batch price is half the interactive one", () => {
  assert.match(PRICES_AS_OF, /^\d{4}-\d{2}-\d{2}$/);
  for (const [model, price] of Object.entries(EMBEDDING_PRICES)) {
    assert.ok(Math.abs(price.batch * 2 - price.interactive) < 1e-12, model);
  }
});
