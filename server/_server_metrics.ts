// Internal: the server's Prometheus metrics. Request and text counters and the
// histograms are kept here; upstream calls, retries and 429s are read from the
// shared EmbeddingMetrics, and the queue depth from the coalescer, when scraped.

import type { EmbeddingMetrics } from "../metrics.ts";
import { Counter, Histogram, Sampled } from "./_prometheus.ts";

/** Where the sampled values come from. */
export interface MetricsSources {
  upstream: EmbeddingMetrics;
  queueDepth: () => number;
  inFlight: () => number;
}

/** Every metric `/metrics` exposes. */
export class ServerMetrics {
  readonly requests = new Counter(
    "embatch_requests_total",
    "HTTP requests answered, by route and status code.",
  );
  readonly texts = new Counter(
    "embatch_texts_total",
    "Texts received in valid requests, by route.",
  );
  readonly rejected = new Counter(
    "embatch_rejected_total",
    "Requests refused before embedding, by reason (auth, body_too_large, client_concurrency, client_rate, queue_full).",
  );
  readonly batchTexts = new Histogram(
    "embatch_upstream_batch_texts",
    "Texts per upstream call.",
    [1, 2, 5, 10, 20, 50, 100],
  );
  readonly callLatency = new Histogram(
    "embatch_upstream_call_seconds",
    "Duration of each upstream call, its retries and waits included.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  readonly itemLatency = new Histogram(
    "embatch_item_latency_seconds",
    "Time from a text's admission to its vector.",
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  readonly #sampled: Sampled[];

  constructor(sources: MetricsSources) {
    const stat = (name: keyof ReturnType<EmbeddingMetrics["summary"]>) => () =>
      sources.upstream.summary()[name] as number;
    this.#sampled = [
      new Sampled(
        "embatch_upstream_calls_total",
        "Upstream requests sent, retries included.",
        "counter",
        stat("calls"),
      ),
      new Sampled(
        "embatch_upstream_retries_total",
        "Upstream requests that were retries.",
        "counter",
        stat("retries"),
      ),
      new Sampled(
        "embatch_upstream_rate_limited_total",
        "Upstream requests answered 429 (absorbed by retrying, not passed on).",
        "counter",
        stat("rateLimited"),
      ),
      new Sampled(
        "embatch_upstream_errors_total",
        "Upstream requests that failed, for any reason.",
        "counter",
        stat("callErrors"),
      ),
      new Sampled(
        "embatch_queue_texts",
        "Texts admitted and not yet answered.",
        "gauge",
        sources.queueDepth,
      ),
      new Sampled(
        "embatch_requests_in_flight",
        "Embedding requests being served.",
        "gauge",
        sources.inFlight,
      ),
    ];
  }

  /** The exposition text. */
  render(): string {
    return [
      this.requests,
      this.texts,
      this.rejected,
      this.batchTexts,
      this.callLatency,
      this.itemLatency,
      ...this.#sampled,
    ].map((metric) => metric.render()).join("");
  }
}
