// The batching sweep: `deno task bench:sweep`.
//
// Runs the whole pipeline (runPipeline → GeminiEmbedder → simulatorClient →
// the simulator's handler) in virtual time for several arrival patterns and
// a grid of batching configurations, and reports API calls, makespan and item
// latency (scheduled arrival → written) p50/p95/p99. Virtual time makes it
// deterministic and fast: the same seeds give the same figures on any
// machine. Writes bench/results/sweep.json and bench/results/sweep.svg.
import { seededRandom } from "../internal/random.ts";
import type { BatchStrategy } from "../batcher.ts";
import { GeminiEmbedder } from "../gemini/embedder.ts";
import { runPipeline } from "../pipeline.ts";
import { createSimulatorHandler, type SimulatorCallOptions } from "../simulator/server.ts";
import { simulatorClient } from "../simulator/client.ts";
import { inVirtualTime } from "./_virtual_time.ts";
import { renderSweepSvg } from "./_chart.ts";

/** The simulated API's latency for one call of n texts: base + perText × n + uniform jitter. */
export const LATENCY = { latency: { baseMs: 120, perTextMs: 2, jitterMs: 60 }, seed: 1 } as const;
/** How the latency is described in the report. */
export const LATENCY_NOTE = "120 ms + 2 ms per text + 0–60 ms jitter per call";

/** An arrival pattern: when each item arrives, in ms from the start. */
export interface Pattern {
  name: string;
  description: string;
  arrivals: number[];
}

function uniformGaps(count: number, maxGapMs: number, seed: number): number[] {
  const random = seededRandom(seed);
  const times: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += Math.round(random() * maxGapMs);
    times.push(t);
  }
  return times;
}

function poisson(count: number, perSecond: number, seed: number, start = 0): number[] {
  const random = seededRandom(seed);
  const times: number[] = [];
  let t = start;
  for (let i = 0; i < count; i++) {
    t += -Math.log(1 - random()) * 1000 / perSecond;
    times.push(Math.round(t));
  }
  return times;
}

function bursts(
  count: number,
  burstSize: number,
  perSecond: number,
  silenceMs: number,
  seed: number,
) {
  const times: number[] = [];
  let start = 0;
  for (let b = 0; times.length < count; b++) {
    const burst = poisson(Math.min(burstSize, count - times.length), perSecond, seed + b, start);
    times.push(...burst);
    start = burst[burst.length - 1]! + silenceMs;
  }
  return times;
}

/** Rate rising linearly from `from` to `to` items/s over `durationMs` (thinned Poisson). */
function ramp(from: number, to: number, durationMs: number, seed: number): number[] {
  const random = seededRandom(seed);
  const times: number[] = [];
  let t = 0;
  while (true) {
    t += -Math.log(1 - random()) * 1000 / to;
    if (t >= durationMs) return times;
    const rate = from + (to - from) * (t / durationMs);
    if (random() < rate / to) times.push(Math.round(t));
  }
}

export const PATTERNS: Pattern[] = [
  {
    name: "demo",
    description: "the demo's stream: uniform 0–300 ms gaps (≈6.7/s), 400 items",
    arrivals: uniformGaps(400, 300, 3),
  },
  { name: "poisson-2", description: "Poisson, 2 items/s, 200 items", arrivals: poisson(200, 2, 5) },
  {
    name: "poisson-20",
    description: "Poisson, 20 items/s, 1,000 items",
    arrivals: poisson(1000, 20, 7),
  },
  {
    name: "poisson-200",
    description: "Poisson, 200 items/s, 4,000 items",
    arrivals: poisson(4000, 200, 11),
  },
  {
    name: "bursts",
    description: "bursts of 200 items at 1,000/s, 5 s of silence between, 2,000 items",
    arrivals: bursts(2000, 200, 1000, 5000, 13),
  },
  {
    name: "ramp",
    description: "Poisson with the rate ramping from 1/s to 300/s over 20 s",
    arrivals: ramp(1, 300, 20_000, 17),
  },
];

/** A batching configuration. */
export interface Config {
  label: string;
  strategy: BatchStrategy;
  batchSize: number;
  timeoutMs: number;
}

const FIXED: Config[] = [];
for (const batchSize of [8, 25, 100]) {
  for (const timeoutMs of [50, 250, 1000]) {
    FIXED.push({ label: `${batchSize}/${timeoutMs}ms`, strategy: "fixed", batchSize, timeoutMs });
  }
}
export const CONFIGS: Config[] = [
  { label: "one-at-a-time", strategy: "fixed", batchSize: 1, timeoutMs: 0 },
  ...FIXED,
  { label: "adaptive 100/1000ms", strategy: "adaptive", batchSize: 100, timeoutMs: 1000 },
];

/** What one run measured. */
export interface Result {
  config: string;
  strategy: BatchStrategy;
  batchSize: number;
  timeoutMs: number;
  calls: number;
  makespanMs: number;
  p50: number;
  p95: number;
  p99: number;
  meanBatch: number;
}

function percentile(sorted: number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

interface Arrival {
  id: number;
  at: number;
}

async function* arrive(times: number[]): AsyncGenerator<Arrival> {
  for (let id = 0; id < times.length; id++) {
    const at = times[id]!;
    const wait = at - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    yield { id, at };
  }
}

/** Runs one configuration on one pattern in virtual time. */
export function runOne(pattern: Pattern, config: Config): Promise<Result> {
  return inVirtualTime(async () => {
    const handler = createSimulatorHandler({ ...LATENCY });
    const embedder = new GeminiEmbedder({
      client: simulatorClient(handler),
      outputDimensionality: 8,
    });
    const latencies: number[] = [];
    let lastWrite = 0;
    const summary = await runPipeline({
      inputs: arrive(pattern.arrivals),
      embedder,
      batchSize: config.batchSize,
      timeout: config.timeoutMs,
      strategy: config.strategy,
      text: ({ id }) => `item ${id}`,
      write: ({ item }) => {
        lastWrite = Date.now();
        latencies.push(lastWrite - item.at);
      },
    });
    if (summary.items !== pattern.arrivals.length) {
      throw new Error(`${pattern.name} ${config.label}: wrote ${summary.items} items`);
    }
    latencies.sort((a, b) => a - b);
    return {
      config: config.label,
      strategy: config.strategy,
      batchSize: config.batchSize,
      timeoutMs: config.timeoutMs,
      calls: summary.calls,
      makespanMs: lastWrite - pattern.arrivals[0]!,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      meanBatch: Math.round((summary.items / summary.calls) * 10) / 10,
    };
  });
}

/**
 * A quota-bound pattern: the seed scenario (five seeds of 100 items with
 * uniform 0–300 ms gaps, back to back, about 75 s; every call takes 100 ms)
 * against a simulator that allows 100 requests per minute per key. The
 * stream's request budget is `budget` calls per minute; when that is less
 * than 100, a bulk job (a backlog in full batches of 100, its own limiter at
 * the rest of the quota) shares the same key for the whole run.
 */
export interface QuotaPattern {
  name: string;
  description: string;
  budget: number;
  arrivals: number[];
}

const SEED_STREAM = [1, 2, 3, 4, 5].flatMap((seed, i, all) => {
  void all;
  const offset = i * 16_000; // each seed's 100 items span under 16 s
  return uniformGaps(100, 300, seed).map((t) => t + offset);
});

export const QUOTA_PATTERNS: QuotaPattern[] = [
  {
    name: "seed@100rpm",
    description: "seed scenario, 500 items; 100 req/min quota, all of it the stream's",
    budget: 100,
    arrivals: SEED_STREAM,
  },
  {
    name: "seed@50of100rpm",
    description: "seed scenario, 500 items; 100 req/min quota shared with a bulk job at 50",
    budget: 50,
    arrivals: SEED_STREAM,
  },
];

/** What one quota-bound run measured. */
export interface QuotaResult extends Result {
  /** Requests (attempts) per minute, on average from the stream's first request to its last. */
  callsPerMinute: number;
  /** The most requests the stream made in any 60-second window (what the API counts). */
  peakCallsPerMinute: number;
  /** The stream's calls that the API refused with a 429. */
  refused: number;
  withinBudget: boolean;
}

/**
 * Shown beside the quota-bound runs, outside the rule: adaptive run without
 * `rpm`, so that only the API's 429s (on the shared key) teach it a budget.
 */
export const LEARNING: Config = {
  label: "adaptive, no rpm (learns from 429s)",
  strategy: "adaptive",
  batchSize: 100,
  timeoutMs: 1000,
};

/** Runs one configuration on one quota-bound pattern in virtual time. */
export function runQuota(pattern: QuotaPattern, config: Config): Promise<QuotaResult> {
  return inVirtualTime(async () => {
    const handler = createSimulatorHandler({
      latency: { baseMs: 100, perTextMs: 0, jitterMs: 0 },
      rpm: 100,
      seed: 1,
    });
    const client = simulatorClient(handler);
    const stopBulk = new AbortController();
    const bulk = pattern.budget < 100
      ? runPipeline({
        inputs: (async function* () {
          for (let i = 0;; i++) yield `bulk ${i}`;
        })(),
        embedder: new GeminiEmbedder({ client, outputDimensionality: 8 }),
        batchSize: 100,
        timeout: 1000,
        rpm: 100 - pattern.budget,
        signal: stopBulk.signal,
        write: () => {},
      }).catch(() => {})
      : Promise.resolve();
    const latencies: number[] = [];
    // When each of the stream's requests reached the API (attempts, 429s included).
    const starts: number[] = [];
    const streamHandler = Object.assign(
      (request: Request, options?: SimulatorCallOptions) => {
        starts.push(Date.now());
        return handler(request, options);
      },
      { stats: handler.stats, keyStats: handler.keyStats, batch: handler.batch },
    );
    let refused = 0;
    let lastWrite = 0;
    const summary = await runPipeline({
      inputs: arrive(pattern.arrivals),
      embedder: new GeminiEmbedder({
        client: simulatorClient(streamHandler),
        outputDimensionality: 8,
      }),
      batchSize: config.batchSize,
      timeout: config.timeoutMs,
      strategy: config.strategy,
      // The "learns" configuration is not told the budget: only 429s teach it.
      ...(config !== LEARNING && { rpm: pattern.budget }),
      text: ({ id }) => `item ${id}`,
      onCall: (record) => {
        refused += record.failures.filter((f) => f === "RESOURCE_EXHAUSTED").length;
      },
      write: ({ item }) => {
        lastWrite = Date.now();
        latencies.push(lastWrite - item.at);
      },
    });
    stopBulk.abort();
    await bulk;
    if (summary.items !== pattern.arrivals.length) {
      throw new Error(`${pattern.name} ${config.label}: wrote ${summary.items} items`);
    }
    latencies.sort((a, b) => a - b);
    starts.sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[i]! - starts[j]! >= 60_000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    const makespanMs = lastWrite - pattern.arrivals[0]!;
    // The average rate between the first request and the last.
    const spanMs = starts.at(-1)! - starts[0]!;
    const callsPerMinute = spanMs > 0
      ? Math.round(((starts.length - 1) / spanMs) * 60_000 * 10) / 10
      : 0;
    return {
      config: config.label,
      strategy: config.strategy,
      batchSize: config.batchSize,
      timeoutMs: config.timeoutMs,
      calls: summary.calls,
      makespanMs,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      meanBatch: Math.round((summary.items / summary.calls) * 10) / 10,
      callsPerMinute,
      peakCallsPerMinute: peak,
      refused,
      withinBudget: callsPerMinute <= pattern.budget && peak <= pattern.budget && refused === 0,
    };
  });
}

/**
 * The quota rule: adaptive stays within the budget, and no fixed
 * configuration that also does beats adaptive's p95 by more than 10%.
 */
export function quotaVerdict(results: QuotaResult[]): string {
  const adaptive = results.find((r) => r.strategy === "adaptive" && r.config !== LEARNING.label)!;
  if (!adaptive.withinBudget) return "FAIL: adaptive exceeds the budget";
  const better = results.filter((r) =>
    r.strategy === "fixed" && r.withinBudget && r.p95 < 0.9 * adaptive.p95
  );
  return better.length === 0
    ? "PASS: adaptive within budget; no fixed configuration within it beats its p95 by >10%"
    : `FAIL: within budget, ${better.map((r) => r.config).join(", ")} beat adaptive's p95 by >10%`;
}

/** The fixed configurations that beat adaptive by more than 10% on calls and p95 at once. */
export function dominators(results: Result[]): Result[] {
  const adaptive = results.find((r) => r.strategy === "adaptive")!;
  return results.filter((r) =>
    r.strategy === "fixed" && r.calls < 0.9 * adaptive.calls && r.p95 < 0.9 * adaptive.p95
  );
}

if (import.meta.main) {
  const started = performance.now();
  const report = [];
  let failures = 0;
  for (const pattern of PATTERNS) {
    const results: Result[] = [];
    for (const config of CONFIGS) results.push(await runOne(pattern, config));
    const beaten = dominators(results);
    const verdict = beaten.length === 0
      ? "PASS: no fixed configuration beats adaptive by >10% on both calls and p95"
      : `FAIL: beaten on both by ${beaten.map((r) => r.config).join(", ")}`;
    if (beaten.length > 0) failures++;
    console.log(`\n${pattern.name}: ${pattern.description}`);
    console.table(
      results.map((r) => ({
        config: r.config,
        calls: r.calls,
        "mean batch": r.meanBatch,
        "makespan s": (r.makespanMs / 1000).toFixed(1),
        "p50 ms": r.p50,
        "p95 ms": r.p95,
        "p99 ms": r.p99,
      })),
    );
    console.log(verdict);
    report.push({
      pattern: pattern.name,
      description: pattern.description,
      items: pattern.arrivals.length,
      verdict,
      results,
    });
  }
  const quotaReport = [];
  for (const pattern of QUOTA_PATTERNS) {
    const results: QuotaResult[] = [];
    for (const config of [...CONFIGS, LEARNING]) results.push(await runQuota(pattern, config));
    const verdict = quotaVerdict(results);
    if (!verdict.startsWith("PASS")) failures++;
    console.log(`\n${pattern.name}: ${pattern.description}; budget ${pattern.budget} calls/min`);
    console.table(
      results.map((r) => ({
        config: r.config,
        calls: r.calls,
        "calls/min": r.callsPerMinute,
        "peak/min": r.peakCallsPerMinute,
        "429s": r.refused,
        "in budget": r.withinBudget ? "yes" : "no",
        "mean batch": r.meanBatch,
        "p50 ms": r.p50,
        "p95 ms": r.p95,
      })),
    );
    console.log(verdict);
    quotaReport.push({
      pattern: pattern.name,
      description: pattern.description,
      budget: pattern.budget,
      items: pattern.arrivals.length,
      verdict,
      results,
    });
  }
  const json = {
    note: "Virtual time (node:test mock timers); latency = scheduled arrival → written. " +
      "Deterministic: same seeds, same figures.",
    latency: LATENCY_NOTE,
    patterns: report,
    quotaNote: "Quota-bound patterns: every call takes 100 ms; the simulator allows 100 " +
      "requests per minute per key; each configuration runs with rpm = the stream's budget.",
    quota: quotaReport,
  };
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(new URL("sweep.json", dir), JSON.stringify(json, null, 2) + "\n");
  await Deno.writeTextFile(new URL("sweep.svg", dir), renderSweepSvg(json));
  console.log(
    `\n${PATTERNS.length + QUOTA_PATTERNS.length - failures}/${
      PATTERNS.length + QUOTA_PATTERNS.length
    } patterns pass; wrote bench/results/sweep.json and sweep.svg in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s (real time)`,
  );
}
