import assert from "node:assert/strict";
import { LatencyHistogram } from "./histogram.ts";

Deno.test("LatencyHistogram answers quantiles within its bucket error", () => {
  const histogram = new LatencyHistogram();
  assert.equal(histogram.quantile(0.5), 0);
  for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
  assert.equal(histogram.count, 1000);
  for (const [q, exact] of [[0.5, 500], [0.95, 950], [0.99, 990]] as const) {
    const got = histogram.quantile(q);
    assert.ok(got >= exact && got <= exact * 1.05, `p${q * 100}: ${got} vs ${exact}`);
  }
  assert.equal(histogram.quantile(1), 1000);
});

Deno.test("LatencyHistogram keeps sub-millisecond and huge durations", () => {
  const histogram = new LatencyHistogram();
  histogram.record(0.2);
  histogram.record(-3);
  assert.equal(histogram.quantile(0.99), 0.2);
  histogram.record(1e15);
  assert.equal(histogram.quantile(1), 1e15);
});

Deno.test("LatencyHistogram counts repeated durations in their own bucket", () => {
  const histogram = new LatencyHistogram();
  for (const ms of [40, 40, 40, 0.5, 0.5, 300, 40]) histogram.record(ms);
  assert.equal(histogram.count, 7);
  assert.equal(histogram.quantile(2 / 7), 1, "the two sub-millisecond ones");
  const median = histogram.quantile(0.5);
  assert.ok(median >= 40 && median <= 42, `p50 ${median}`);
  assert.ok(histogram.quantile(6 / 7) <= 42);
  assert.equal(histogram.quantile(1), 300);
});
