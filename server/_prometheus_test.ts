import assert from "node:assert/strict";
import { Counter, Histogram, Sampled } from "./_prometheus.ts";

Deno.test("Counter renders one line per label set, with HELP and TYPE", () => {
  const counter = new Counter("embatch_requests_total", "Requests answered.");
  assert.match(counter.render(), /^embatch_requests_total 0$/m);
  counter.inc({ route: "openai", code: "200" });
  counter.inc({ route: "openai", code: "200" }, 2);
  counter.inc({ route: "gemini", code: '4"0\\1' });
  assert.equal(counter.get({ route: "openai", code: "200" }), 3);
  assert.equal(
    counter.render(),
    "# HELP embatch_requests_total Requests answered.\n" +
      "# TYPE embatch_requests_total counter\n" +
      'embatch_requests_total{route="openai",code="200"} 3\n' +
      'embatch_requests_total{route="gemini",code="4\\"0\\\\1"} 1\n',
  );
});

Deno.test("Histogram renders cumulative buckets, sum and count", () => {
  const histogram = new Histogram("embatch_upstream_batch_texts", "Texts per call.", [10, 1, 100]);
  for (const value of [1, 5, 5, 100, 250]) histogram.observe(value);
  assert.equal(
    histogram.render(),
    "# HELP embatch_upstream_batch_texts Texts per call.\n" +
      "# TYPE embatch_upstream_batch_texts histogram\n" +
      'embatch_upstream_batch_texts_bucket{le="1"} 1\n' +
      'embatch_upstream_batch_texts_bucket{le="10"} 3\n' +
      'embatch_upstream_batch_texts_bucket{le="100"} 4\n' +
      'embatch_upstream_batch_texts_bucket{le="+Inf"} 5\n' +
      "embatch_upstream_batch_texts_sum 361\n" +
      "embatch_upstream_batch_texts_count 5\n",
  );
});

Deno.test("Sampled reads its value when rendered", () => {
  let depth = 3;
  const gauge = new Sampled("embatch_queue_texts", "Texts waiting.", "gauge", () => depth);
  assert.match(gauge.render(), /# TYPE embatch_queue_texts gauge\nembatch_queue_texts 3\n$/);
  depth = 0;
  assert.match(gauge.render(), /embatch_queue_texts 0\n$/);
});
