import assert from "node:assert/strict";
import { EmbeddingMetrics } from "../metrics.ts";
import { ServerMetrics } from "./_server_metrics.ts";

Deno.test("ServerMetrics renders its own counters and the sampled upstream figures", () => {
  const upstream = new EmbeddingMetrics();
  upstream.recordCall({
    texts: 40,
    tokens: 40,
    attempts: 3,
    failures: ["RESOURCE_EXHAUSTED", "UNAVAILABLE"],
    status: "ok",
    startedAt: 0,
    latencyMs: 5,
  });
  const metrics = new ServerMetrics({ upstream, queueDepth: () => 7, inFlight: () => 2 });
  metrics.requests.inc({ route: "openai", code: "200" });
  metrics.batchTexts.observe(40);
  metrics.itemLatency.observe(0.02);
  const text = metrics.render();
  assert.match(text, /^embatch_requests_total\{route="openai",code="200"\} 1$/m);
  assert.match(text, /^embatch_upstream_calls_total 3$/m);
  assert.match(text, /^embatch_upstream_retries_total 2$/m);
  assert.match(text, /^embatch_upstream_rate_limited_total 1$/m);
  assert.match(text, /^embatch_upstream_errors_total 2$/m);
  assert.match(text, /^embatch_queue_texts 7$/m);
  assert.match(text, /^embatch_requests_in_flight 2$/m);
  assert.match(text, /^embatch_upstream_batch_texts_bucket\{le="50"\} 1$/m);
  assert.match(text, /^embatch_item_latency_seconds_bucket\{le="0.025"\} 1$/m);
  assert.match(text, /^# TYPE embatch_item_latency_seconds histogram$/m);
});
