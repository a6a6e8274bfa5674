/**
 * Benchmark of the embedding cache (issue 14), in two parts.
 *
 *   deno task bench:cache [--vectors N] [--texts N] [--dimensions N] [--concurrency N] [--baseline]
 *
 * 1. The store: `--vectors` (default 1,000,000) random float32 vectors of
 *    `--dimensions` (default 768) values are written to a new cache file with
 *    `putMany` in batches of 1,000 (inserts per second), the file is closed
 *    (checkpointing the WAL) and its size measured, then reopened and looked
 *    up with `getMany` in batches of 256: 200,000 random hits and 200,000
 *    misses (lookups per second, key hashing included).
 * 2. A corpus re-run: `--texts` (default 1,000,000) JSONL texts are embedded by
 *    `main.ts --simulate --cache` as a subprocess against the simulator's
 *    Gemini-like latency model (150 ms + 2 ms per text + 0–100 ms jitter per
 *    call, no quota; the CLI's defaults otherwise: 4 calls in flight, batches
 *    of 100), with a new cache (the first run), then again with every 50th
 *    text edited (2% changed); with `--baseline`, also first without a cache
 *    (the cost of writing the cache). It prints each run's time and
 *    API calls, checks that the re-run's output holds, for every id, the
 *    simulator's vector of its current text, and compares the re-run with the
 *    first run. Corpus runs use 8 dimensions so that the output file (JSON
 *    numbers) does not dominate; part 1 measures the store at full size.
 *
 * Everything is written to a temporary directory and deleted at the end.
 */

import { parseArgs } from "node:util";
import { CachedEmbedder } from "../cache/cached_embedder.ts";
import { EmbeddingCache } from "../cache/embedding_cache.ts";
import { cacheKey } from "../cache/key.ts";
import { simulatedEmbedding } from "../simulator/server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    vectors: { type: "string", default: "1000000" },
    texts: { type: "string", default: "1000000" },
    dimensions: { type: "string", default: "768" },
    concurrency: { type: "string", default: "4" },
    baseline: { type: "boolean", default: false },
  },
});
const VECTORS = Number(values.vectors);
const TEXTS = Number(values.texts);
const DIMENSIONS = Number(values.dimensions);
const CORPUS_DIMENSIONS = 8;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "embatch-bench-cache-" });
const n = (value: number) => Math.round(value).toLocaleString("en-US");
const context = { model: "gemini-embedding-001", dimensions: DIMENSIONS };
const textOf = (i: number) =>
  `Document ${i}: a sentence about topic ${i % 997}, ${"word ".repeat(i % 9)}`;

function benchStore(): void {
  if (VECTORS === 0) return;
  const path = `${dir}/store.sqlite`;
  console.log(`store: ${n(VECTORS)} vectors of ${DIMENSIONS} float32 values`);
  let cache = new EmbeddingCache(path);
  const vector = new Float32Array(DIMENSIONS);
  let started = performance.now();
  for (let at = 0; at < VECTORS; at += 1000) {
    const entries = [];
    for (let i = at; i < Math.min(at + 1000, VECTORS); i++) {
      for (let d = 0; d < DIMENSIONS; d++) vector[d] = Math.random() * 2 - 1;
      entries.push({ key: cacheKey(context, textOf(i)), vector: vector.slice() });
    }
    cache.putMany(entries);
  }
  const insertSeconds = (performance.now() - started) / 1000;
  cache.close();
  const bytes = Deno.statSync(path).size;
  console.log(
    `  insert: ${n(VECTORS / insertSeconds)} vectors/s (${insertSeconds.toFixed(1)} s, ` +
      `putMany of 1,000, key hashing included)`,
  );
  console.log(
    `  file: ${(bytes / 1e9).toFixed(2)} GB, ${(bytes / 1e9 / VECTORS * 1e6).toFixed(2)} GB ` +
      `per million vectors (${(bytes / VECTORS).toFixed(0)} bytes each; the vector is ${
        DIMENSIONS * 4
      })`,
  );

  cache = new EmbeddingCache(path);
  const lookups = Math.min(200_000, VECTORS);
  for (const kind of ["hits", "misses"] as const) {
    started = performance.now();
    let found = 0;
    for (let at = 0; at < lookups; at += 256) {
      const keys = [];
      for (let i = at; i < Math.min(at + 256, lookups); i++) {
        const index = kind === "hits" ? Math.floor(Math.random() * VECTORS) : VECTORS + i;
        keys.push(cacheKey(context, textOf(index)));
      }
      for (const v of cache.getMany(keys)) if (v !== undefined) found++;
    }
    const seconds = (performance.now() - started) / 1000;
    if (found !== (kind === "hits" ? lookups : 0)) throw new Error(`${kind}: found ${found}`);
    console.log(
      `  lookup (${kind}, random): ${n(lookups / seconds)} keys/s ` +
        `(${n(lookups)} keys, getMany of 256, key hashing included)`,
    );
  }
  cache.close();
  Deno.removeSync(path);
}

async function writeCorpus(path: string, edited: boolean): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < TEXTS; i++) {
    const text = edited && i % 50 === 0 ? `${textOf(i)} (edited)` : textOf(i);
    lines.push(JSON.stringify({ id: `doc-${i}`, text }));
  }
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

interface CliRun {
  seconds: number;
  calls: number;
  summary: string;
}

async function runCli(output: string, cache: boolean): Promise<CliRun> {
  const args = [
    "run",
    "--allow-net=127.0.0.1",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    MAIN,
    "--input",
    `${dir}/corpus.jsonl`,
    "--output",
    output,
    "--overwrite",
    "--simulate",
    "--simulate-latency",
    "150ms",
    "--simulate-latency-per-text",
    "2ms",
    "--simulate-latency-jitter",
    "100ms",
    "--dimensions",
    String(CORPUS_DIMENSIONS),
    "--concurrency",
    values.concurrency,
    "--progress-interval",
    "1h",
    ...(cache ? ["--cache", `${dir}/corpus-cache.sqlite`] : []),
  ];
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(Deno.execPath(), { args, stdin: "null" })
    .output();
  const seconds = (performance.now() - started) / 1000;
  const summary = new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`main.ts exited ${code}:\n${summary}`);
  const calls = Number(/([\d,]+) API calls/.exec(summary)?.[1]?.replaceAll(",", ""));
  return { seconds, calls, summary };
}

async function checkOutput(path: string): Promise<void> {
  const file = await Deno.open(path);
  let i = 0;
  let rest = "";
  for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const record = JSON.parse(line);
      const text = i % 50 === 0 ? `${textOf(i)} (edited)` : textOf(i);
      const expected = Array.from(Float32Array.from(simulatedEmbedding(text, CORPUS_DIMENSIONS)));
      if (
        record.id !== `doc-${i}` || JSON.stringify(record.embedding) !== JSON.stringify(expected)
      ) {
        throw new Error(`record ${i} is wrong: ${line.slice(0, 120)}`);
      }
      i++;
    }
  }
  if (i !== TEXTS) throw new Error(`${i} records, expected ${TEXTS}`);
}

async function benchRerun(): Promise<void> {
  if (TEXTS === 0) return;
  console.log(
    `corpus re-run: ${n(TEXTS)} texts, ${CORPUS_DIMENSIONS} dimensions, simulator latency ` +
      `150 ms + 2 ms/text + 0-100 ms jitter, --concurrency ${values.concurrency}`,
  );
  await writeCorpus(`${dir}/corpus.jsonl`, false);
  if (values.baseline) {
    const baseline = await runCli(`${dir}/baseline.jsonl`, false);
    console.log(
      `  without --cache:          ${baseline.seconds.toFixed(1)} s, ${
        n(baseline.calls)
      } API calls`,
    );
  }
  const first = await runCli(`${dir}/first.jsonl`, true);
  console.log(
    `  first run, --cache:       ${first.seconds.toFixed(1)} s, ${n(first.calls)} API calls`,
  );
  for (const line of first.summary.split("\n")) {
    if (/^\s+batches:/.test(line)) console.log(`    ${line.trim()}`);
  }
  await writeCorpus(`${dir}/corpus.jsonl`, true);
  const again = await runCli(`${dir}/again.jsonl`, true);
  console.log(
    `  re-run, 2% texts edited:  ${again.seconds.toFixed(1)} s, ${n(again.calls)} API calls`,
  );
  // The re-run's own summary lines: batches (full, timed out, final), retries, the cache.
  for (const line of again.summary.split("\n")) {
    if (/^\s+(batches|cache):/.test(line)) console.log(`    ${line.trim()}`);
  }
  await checkOutput(`${dir}/again.jsonl`);
  const callShare = again.calls / first.calls;
  const speedup = first.seconds / again.seconds;
  console.log(
    `  re-run vs first run: ${(callShare * 100).toFixed(2)}% of the calls (target <= 2%), ` +
      `${
        speedup.toFixed(1)
      }x faster (target >= 10x); output checked: every record is its text's vector`,
  );
}

/** A check that CachedEmbedder's per-call overhead on hits is small next to an API call. */
async function benchEmbedderHits(): Promise<void> {
  const path = `${dir}/embedder.sqlite`;
  using cache = new EmbeddingCache(path);
  const upstream = {
    embed: (texts: readonly string[]) =>
      Promise.resolve(texts.map((t) => simulatedEmbedding(t, DIMENSIONS))),
  };
  const embedder = new CachedEmbedder(upstream, cache, context);
  const batch = Array.from({ length: 100 }, (_, i) => textOf(i));
  await embedder.embed(batch);
  const started = performance.now();
  const rounds = 200;
  for (let r = 0; r < rounds; r++) await embedder.embed(batch);
  const ms = (performance.now() - started) / rounds;
  console.log(
    `CachedEmbedder: a call of 100 texts, all hits, ${DIMENSIONS} dimensions: ${ms.toFixed(2)} ms`,
  );
}

try {
  benchStore();
  await benchEmbedderHits();
  await benchRerun();
} finally {
  await Deno.remove(dir, { recursive: true });
}
