// End-to-end, under fake time: runPipeline and EmbeddingBatcher over the
// realistic simulator (quotas, faults, latency) through GeminiEmbedder.
import assert from "node:assert/strict";
import { runPipeline } from "../pipeline.ts";
import { GeminiEmbedder } from "./embedder.ts";
import { simulatorClient } from "../simulator/client.ts";
import { createSimulatorHandler, simulatedEmbedding } from "../simulator/server.ts";
import { GEMINI_LATENCY } from "../simulator/faults.ts";
import { FakeTime } from "../internal/fake_time.ts";
import { seededRandom } from "../internal/random.ts";

const DIMS = 8;
/** 10% of admitted calls get a fault. */
const TEN_PERCENT = {
  error500: 0.03,
  error503: 0.03,
  hang: 0.01,
  drop: 0.01,
  wrongCount: 0.01,
  latencySpike: { probability: 0.01, ms: 5_000 },
};

function corpus(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const words = ["embedding", "vector", "quota", "batch", "gemini", "search", "the", "a", "of"];
  return Array.from({ length: count }, (_, i) => {
    const length = 10 + Math.floor(random() * 60);
    const body = Array.from({ length }, () => words[Math.floor(random() * words.length)]).join(" ");
    return `doc ${i}: ${body}`;
  });
}

Deno.test("2,000 inputs under the free-tier quota with 10% faults all get their own vectors", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({
    rpm: 100,
    tpm: 30_000,
    faults: TEN_PERCENT,
    latency: GEMINI_LATENCY,
    seed: 2024,
  });
  const embedder = new GeminiEmbedder({
    client: simulatorClient(handler),
    outputDimensionality: DIMS,
  });
  const texts = corpus(2000, 1);
  const written: { index: number; ok: boolean; embedding?: number[] | undefined }[] = [];
  const summary = await time.until(
    runPipeline({
      inputs: texts,
      embedder,
      batchSize: 25,
      concurrency: 4,
      rpm: 100,
      tpm: 30_000,
      callTimeout: "10s",
      retry: { random: seededRandom(5) },
      write: ({ index, ok, embedding }) => void written.push({ index, ok, embedding }),
    }),
    10,
  );
  assert.equal(written.length, 2000);
  written.forEach((w, i) => {
    assert.equal(w.index, i);
    assert.equal(w.ok, true);
    assert.deepEqual(w.embedding, simulatedEmbedding(texts[i]!, DIMS));
  });
  const stats = handler.stats;
  assert.equal(stats.rateLimited, 0, "the limiter kept every call under quota");
  assert.ok(stats.peakRequestsPerMinute <= 100);
  assert.ok(stats.peakTokensPerMinute <= 30_000, `${stats.peakTokensPerMinute} tokens in a minute`);
  assert.equal(summary.failed, 0);
  assert.equal(summary.rateLimited, 0);
  const injected = Object.values(stats.faults).reduce((a, b) => a + b, 0);
  assert.ok(injected > 0 && summary.retries > 0, "faults were injected and retried");
  assert.equal(summary.calls, stats.requests);
});

Deno.test("any seed, any arrivals, any fault mix: one result per input, its own, in order", async () => {
  using time = new FakeTime();
  for (let seed = 1; seed <= 25; seed++) {
    const random = seededRandom(seed);
    const count = 1 + Math.floor(random() * 300);
    const texts = corpus(count, seed).map((t, i) => random() < 0.02 ? "x".repeat(30_000) + i : t);
    const faults = {
      error500: random() * 0.1,
      error503: random() * 0.1,
      hang: random() * 0.05,
      drop: random() * 0.05,
      wrongCount: random() * 0.05,
    };
    const handler = createSimulatorHandler({
      rpm: 20 + Math.floor(random() * 100),
      faults,
      latency: { baseMs: 50, perTextMs: 1, jitterMs: 100 },
      seed,
    });
    const embedder = new GeminiEmbedder({
      client: simulatorClient(handler),
      outputDimensionality: 4,
    });
    const gaps = texts.map(() => random() < 0.7 ? 0 : Math.floor(random() * 500));
    const arrivals = async function* () {
      for (let i = 0; i < texts.length; i++) {
        if (gaps[i]! > 0) await new Promise((r) => setTimeout(r, gaps[i]));
        yield texts[i]!;
      }
    };
    const seen: number[] = [];
    await time.until(
      runPipeline({
        inputs: arrivals(),
        embedder,
        batchSize: 1 + Math.floor(random() * 100),
        timeout: Math.floor(random() * 1000),
        concurrency: 1 + Math.floor(random() * 6),
        rpm: 20 + Math.floor(random() * 100),
        callTimeout: "5s",
        retry: { maxAttempts: 12, random: seededRandom(seed) },
        write: (out) => {
          seen.push(out.index);
          assert.equal(out.text, texts[out.index]);
          if (out.text.length > 30_000) {
            assert.equal(out.error?.code, "TOKEN_LIMIT", `seed ${seed}`);
          } else {
            assert.equal(out.ok, true, `seed ${seed}: ${out.error?.code} ${out.error?.message}`);
            assert.deepEqual(out.embedding, simulatedEmbedding(out.text, 4));
          }
        },
      }),
      10,
    );
    assert.deepEqual(seen, texts.map((_, i) => i), `seed ${seed}: every input once, in order`);
  }
});
