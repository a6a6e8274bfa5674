import assert from "node:assert/strict";
import { type EmbeddedItem, runPipeline } from "./pipeline.ts";
import { type CallRecord, EmbeddingMetrics } from "./metrics.ts";
import type { Batch } from "./batcher.ts";
import type { Embedder } from "./embedder.ts";
import { FakeTime } from "./internal/fake_time.ts";

/** An embedder whose vector for a text is [its length, its first char code]. */
function fakeEmbedder(options: { latencyMs?: number; failOnCall?: number } = {}) {
  const calls: string[][] = [];
  const embedder: Embedder = {
    async embed(texts, { signal } = {}) {
      calls.push([...texts]);
      if (calls.length === options.failOnCall) throw new Error(`call ${calls.length} failed`);
      if (options.latencyMs) {
        await new Promise<void>((resolve, reject) => {
          const id = setTimeout(resolve, options.latencyMs);
          signal?.addEventListener("abort", () => {
            clearTimeout(id);
            reject(signal.reason);
          }, { once: true });
        });
      }
      return texts.map((t) => [t.length, t.charCodeAt(0)]);
    },
  };
  return { embedder, calls };
}

Deno.test("runPipeline writes every input once, in order, with its own vector", async () => {
  const { embedder, calls } = fakeEmbedder();
  const inputs = Array.from({ length: 250 }, (_, i) => `input-${i}`);
  const written: EmbeddedItem<string>[] = [];
  const summary = await runPipeline({
    inputs,
    embedder,
    batchSize: 100,
    write: (out) => void written.push(out),
  });
  assert.deepEqual(written.map((w) => w.item), inputs);
  assert.deepEqual(written.map((w) => w.index), inputs.map((_, i) => i));
  for (const w of written) assert.deepEqual(w.embedding, [w.text.length, w.text.charCodeAt(0)]);
  assert.deepEqual(calls.map((c) => c.length), [100, 100, 50]);
  assert.deepEqual(summary.batches, { total: 3, size: 2, timeout: 0, end: 1 });
  assert.equal(summary.items, 250);
  assert.equal(summary.calls, 3);
});

Deno.test("runPipeline forms batches by size and by timeout from a timed stream", async () => {
  using time = new FakeTime();
  const { embedder } = fakeEmbedder({ latencyMs: 50 });
  async function* arrivals() {
    for (let i = 0; i < 8; i++) yield `burst-${i}`; // fills a batch of 4 twice
    await new Promise((r) => setTimeout(r, 100));
    yield "straggler"; // waits alone for the 1 s timeout
    await new Promise((r) => setTimeout(r, 3000));
    yield "last"; // flushed when the input ends
  }
  const batches: Batch<string>[] = [];
  const written: string[] = [];
  const run = runPipeline({
    inputs: arrivals(),
    embedder,
    batchSize: 4,
    timeout: "1s",
    onBatch: (b) => void batches.push(b),
    write: (out) => void written.push(out.text),
  });
  await time.tick(5000, true);
  const summary = await run;
  assert.deepEqual(batches.map((b) => [b.items.length, b.reason]), [
    [4, "size"],
    [4, "size"],
    [1, "timeout"],
    [1, "end"],
  ]);
  assert.equal(batches[2]!.emittedAt - batches[2]!.openedAt, 1000);
  assert.equal(written.length, 10);
  assert.deepEqual(summary.batches, { total: 4, size: 2, timeout: 1, end: 1 });
  assert.equal(summary.elapsedMs, 3150);
});

Deno.test("runPipeline shuts down cleanly on empty input", async () => {
  const { embedder, calls } = fakeEmbedder();
  const summary = await runPipeline({ inputs: [], embedder, write: () => {} });
  assert.equal(calls.length, 0);
  assert.deepEqual(summary.batches, { total: 0, size: 0, timeout: 0, end: 0 });
  assert.equal(summary.items, 0);
});

Deno.test("runPipeline turns an embedder's failures into per-item error results", async () => {
  using time = new FakeTime();
  const { embedder, calls } = fakeEmbedder({ failOnCall: 2 });
  const written: EmbeddedItem<string>[] = [];
  const summary = await time.until(runPipeline({
    inputs: Array.from({ length: 30 }, (_, i) => `x${i}`),
    embedder,
    batchSize: 10,
    concurrency: 1,
    write: (out) => void written.push(out),
  }));
  assert.equal(calls.length, 3, "an unknown error is not retried");
  assert.deepEqual(written.map((w) => w.index), Array.from({ length: 30 }, (_, i) => i));
  assert.deepEqual(
    written.filter((w) => !w.ok).map((w) => [w.index, w.error?.code, w.error?.attempts]),
    Array.from({ length: 10 }, (_, i) => [10 + i, "UNKNOWN", 1]),
  );
  assert.equal(summary.succeeded, 20);
  assert.equal(summary.failed, 10);
});

Deno.test("runPipeline rejects with a failing stage's error without hanging", async (t) => {
  await t.step("writer fails", async () => {
    const { embedder } = fakeEmbedder();
    await assert.rejects(
      runPipeline({
        inputs: ["a", "b", "c"],
        embedder,
        batchSize: 1,
        write: (out) => {
          if (out.index === 1) throw new Error("disk full");
        },
      }),
      /disk full/,
    );
  });
  await t.step("source fails", async () => {
    const { embedder } = fakeEmbedder();
    async function* broken() {
      yield "a";
      throw new Error("read error");
    }
    await assert.rejects(
      runPipeline({ inputs: broken(), embedder, write: () => {} }),
      /read error/,
    );
  });
  await t.step("non-string input without a text option", async () => {
    const { embedder } = fakeEmbedder();
    await assert.rejects(
      runPipeline<unknown>({ inputs: [42], embedder, write: () => {} }),
      { name: "TypeError", message: /expected a string .* received number/ },
    );
  });
});

Deno.test("runPipeline never pairs a vector with the wrong input", async () => {
  using time = new FakeTime();
  const short: Embedder = { embed: (texts) => Promise.resolve(texts.slice(1).map(() => [0])) };
  const written: EmbeddedItem<string>[] = [];
  await time.until(runPipeline({
    inputs: ["a", "b"],
    embedder: short,
    retry: { maxAttempts: 2, initialDelay: 10 },
    write: (o) => void written.push(o),
  }));
  assert.deepEqual(written.map((w) => [w.ok, w.error?.code]), [
    [false, "EMBEDDING_COUNT"],
    [false, "EMBEDDING_COUNT"],
  ]);
});

Deno.test("runPipeline stops on abort, rejects with the signal's reason, and accounts for every item", async () => {
  using time = new FakeTime();
  const { embedder, calls } = fakeEmbedder({ latencyMs: 1000 });
  const controller = new AbortController();
  const written: string[] = [];
  const metrics = new EmbeddingMetrics();
  const run = runPipeline({
    inputs: Array.from({ length: 50 }, (_, i) => `t${i}`),
    embedder,
    batchSize: 10,
    concurrency: 1,
    metrics,
    signal: controller.signal,
    write: (o) => void written.push(o.text),
  });
  const outcome = run.then(() => undefined, (e: unknown) => e);
  await time.tick(1500, true);
  const reason = new Error("user cancelled");
  controller.abort(reason);
  assert.equal(await outcome, reason);
  assert.equal(calls.length, 2, "the second call was in flight; no third started");
  assert.equal(written.length, 10);
  const stats = metrics.summary();
  assert.equal(stats.pending, 0);
  assert.equal(stats.succeeded, 10);
  assert.equal(stats.items, stats.succeeded + stats.failed + stats.cancelled);
  assert.ok(stats.cancelled >= 10, "the batch in flight, at least, was cancelled");
});

Deno.test("runPipeline keeps a sliding pool of calls and writes in input order", async () => {
  using time = new FakeTime();
  // Batch k takes (k % 3 + 1) × 100 ms: later batches often finish first.
  let inFlight = 0;
  const started: number[] = [];
  const embedder: Embedder = {
    async embed(texts) {
      started.push(Date.now());
      inFlight++;
      const k = Number(texts[0]!.slice(1)) / 5;
      await new Promise((r) => setTimeout(r, (k % 3 + 1) * 100));
      inFlight--;
      return texts.map((t) => [t.length, t.charCodeAt(0)]);
    },
  };
  const written: number[] = [];
  const inFlightAtWrite: number[] = [];
  await time.until(runPipeline({
    inputs: Array.from({ length: 40 }, (_, i) => `t${i}`),
    embedder,
    batchSize: 5,
    concurrency: 3,
    write: (o) => {
      written.push(o.index);
      inFlightAtWrite.push(inFlight);
    },
  }));
  assert.deepEqual(written, Array.from({ length: 40 }, (_, i) => i));
  // Not in waves: batch 3 starts when batch 0 ends (100 ms), before batches 1 and 2 finish.
  assert.deepEqual(started.slice(0, 4), [0, 0, 0, 100]);
  assert.ok(Math.max(...inFlightAtWrite) <= 3);
});

Deno.test("runPipeline bounds the reorder buffer: a slow batch stops new calls", async () => {
  using time = new FakeTime();
  const started: string[] = [];
  const embedder: Embedder = {
    async embed(texts) {
      started.push(texts[0]!);
      await new Promise((r) => setTimeout(r, texts[0] === "t0" ? 10_000 : 10));
      return texts.map(() => [1]);
    },
  };
  const run = runPipeline({
    inputs: Array.from({ length: 100 }, (_, i) => `t${i}`),
    embedder,
    batchSize: 1,
    concurrency: 2,
    reorderBuffer: 3,
    write: () => {},
  });
  await time.tick(5_000, false);
  await time.tick(100, true);
  // t0 holds the head: one in flight beside it, and 3 finished waiting behind it.
  assert.equal(started.length, 1 + 1 + 3);
  await time.until(run, 10);
  assert.equal(started.length, 100);
});

Deno.test("runPipeline writes in completion order when ordered is false", async () => {
  using time = new FakeTime();
  const embedder: Embedder = {
    async embed(texts) {
      await new Promise((r) => setTimeout(r, texts[0] === "slow" ? 500 : 10));
      return texts.map(() => [1]);
    },
  };
  const written: string[] = [];
  await time.until(runPipeline({
    inputs: ["slow", "a", "b"],
    embedder,
    batchSize: 1,
    ordered: false,
    write: (o) => void written.push(`${o.index}:${o.text}`),
  }));
  assert.deepEqual(written, ["1:a", "2:b", "0:slow"]);
});

Deno.test("runPipeline reports calls and item latency percentiles", async () => {
  using time = new FakeTime();
  const { embedder } = fakeEmbedder({ latencyMs: 50 });
  const records: CallRecord[] = [];
  const summary = await time.until(runPipeline({
    inputs: Array.from({ length: 100 }, (_, i) => `q${i}`),
    embedder,
    batchSize: 10,
    onCall: (r) => void records.push(r),
    write: () => {},
  }));
  assert.equal(records.length, 10);
  assert.ok(records.every((r) => r.texts === 10 && r.status === "ok" && r.reason === "size"));
  assert.equal(summary.calls, 10);
  assert.equal(summary.retries, 0);
  // Items enter as the bounded channels make room, so none waits more than two calls.
  const { p50, p95, p99, max } = summary.itemLatencyMs;
  assert.ok(50 <= p50 && p50 <= p95 && p95 <= p99 && p99 <= max && max === 100);
});

Deno.test("runPipeline embeds a text taken from structured inputs", async () => {
  const { embedder } = fakeEmbedder();
  const docs = [{ id: "a", body: "hello" }, { id: "b", body: "hi" }];
  const out: [string, number[]][] = [];
  await runPipeline({
    inputs: docs,
    embedder,
    text: (d) => d.body,
    write: ({ item, embedding }) => void out.push([item.id, embedding!]),
  });
  assert.deepEqual(out, [["a", [5, 104]], ["b", [2, 104]]]);
});

Deno.test("runPipeline measures item latency from entry even when batches finish out of order", async () => {
  using time = new FakeTime();
  // The first batch takes 300 ms, every later one 10 ms: results arrive out of order.
  const embedder = {
    embed: (texts: readonly string[]) =>
      new Promise<number[][]>((resolve) =>
        setTimeout(() => resolve(texts.map(() => [1])), texts[0] === "t0" ? 300 : 10)
      ),
  };
  const summary = await time.until(runPipeline({
    inputs: Array.from({ length: 40 }, (_, i) => `t${i}`),
    embedder,
    batchSize: 10,
    ordered: false,
    write: () => {},
  }));
  assert.equal(summary.succeeded, 40);
  // Every item entered at 0: 30 finished at 10 ms, the first 10 at 300 ms.
  assert.equal(summary.itemLatencyMs.p50, 10);
  assert.equal(summary.itemLatencyMs.max, 300);
});

Deno.test("runPipeline counts item latency from the entry time the caller gives", async () => {
  using time = new FakeTime();
  const { embedder } = fakeEmbedder({ latencyMs: 50 });
  async function* readLate() {
    await new Promise((resolve) => setTimeout(resolve, 30));
    for (let i = 0; i < 4; i++) yield { text: `line-${i}`, readAt: 0 }; // read at 0, handed over at 30
  }
  const run = (entryTime?: (item: { readAt: number }) => number) =>
    time.until(runPipeline({
      inputs: readLate(),
      embedder,
      batchSize: 4,
      text: (item) => item.text,
      ...(entryTime && { entryTime }),
      write: () => {},
    }));
  const given = await run((item) => item.readAt);
  assert.equal(given.itemLatencyMs.p50, 80);
  assert.equal(given.itemLatencyMs.max, 80);
  const clocked = await run();
  assert.equal(clocked.itemLatencyMs.max, 50);
});

Deno.test("runPipeline counts an entry time from when it could take the input, if it was busy", async () => {
  using time = new FakeTime();
  const { embedder } = fakeEmbedder({ latencyMs: 50 });
  // Every input is available at 0; the pipeline (one call at a time) takes them as room appears.
  const run = (entryTime?: (item: string) => number) =>
    time.until(runPipeline({
      inputs: Array.from({ length: 12 }, (_, i) => `t${i}`),
      embedder,
      batchSize: 2,
      concurrency: 1,
      ...(entryTime && { entryTime }),
      write: () => {},
    }));
  const clocked = await run();
  const start = Date.now(); // the fake clock, after the first run
  const given = await run(() => start);
  assert.deepEqual(given.itemLatencyMs, clocked.itemLatencyMs);
  // The last inputs are written 300 ms after the start but entered once there was room.
  assert.equal(given.itemLatencyMs.max, 250);
});
