/**
 * The soak run (`deno task soak`): 2,000 inputs through `runPipeline` against
 * the simulator over real HTTP, in real time, with Gemini's free-tier quota
 * (100 RPM, 30,000 TPM) and 10% injected faults; prints the run's summary
 * and the simulator's own counters (peak calls and tokens in any minute).
 *
 * @module
 */

import { GeminiEmbedder } from "../gemini/embedder.ts";
import { runPipeline } from "../pipeline.ts";
import { simulatedEmbedding, startSimulator } from "../simulator/server.ts";
import { GEMINI_LATENCY } from "../simulator/faults.ts";
import { seededRandom } from "../internal/random.ts";

const COUNT = Number(Deno.args[0] ?? 2000);
const DIMS = 16;
const random = seededRandom(7);
const words = ["embedding", "vector", "quota", "batch", "gemini", "search", "the", "a", "of"];
const texts = Array.from({ length: COUNT }, (_, i) => {
  const length = 5 + Math.floor(random() * 20);
  return `doc ${i}: ` +
    Array.from({ length }, () => words[Math.floor(random() * words.length)]).join(" ");
});

await using simulator = startSimulator({
  rpm: 100,
  tpm: 30_000,
  latency: GEMINI_LATENCY,
  seed: 42,
  faults: {
    error500: 0.03,
    error503: 0.03,
    hang: 0.01,
    drop: 0.01,
    wrongCount: 0.01,
    latencySpike: { probability: 0.01, ms: 5_000 },
  },
});
const embedder = new GeminiEmbedder({
  apiKey: "soak",
  baseUrl: simulator.url,
  outputDimensionality: DIMS,
});
let wrong = 0;
let failed = 0;
let lastIndex = -1;
let outOfOrder = 0;
const started = Date.now();
const summary = await runPipeline({
  inputs: texts,
  embedder,
  batchSize: 25,
  concurrency: 4,
  rpm: 100,
  tpm: 30_000,
  callTimeout: "10s",
  write: (out) => {
    if (out.index !== lastIndex + 1) outOfOrder++;
    lastIndex = out.index;
    if (!out.ok) failed++;
    else if (
      out.embedding.some((v, i) => v !== simulatedEmbedding(texts[out.index]!, DIMS)[i])
    ) wrong++;
  },
  onBatch: (batch) => {
    if (batch.index % 10 === 0) {
      console.error(`[${((Date.now() - started) / 1000).toFixed(1)}s] batch ${batch.index}`);
    }
  },
});
const s = simulator.stats;
console.log(JSON.stringify(
  {
    inputs: COUNT,
    correctVectors: summary.succeeded - wrong,
    wrongVectors: wrong,
    errorResults: failed,
    outOfOrder,
    summary,
    simulator: {
      requests: s.requests,
      byStatus: s.byStatus,
      rateLimited: s.rateLimited,
      faults: s.faults,
      peakRequestsPerMinute: s.peakRequestsPerMinute,
      peakTokensPerMinute: s.peakTokensPerMinute,
    },
  },
  null,
  2,
));
