import assert from "node:assert/strict";
import { type EmbeddedItem, runPipeline } from "./pipeline.ts";
import type { Batch } from "./batcher.ts";
import type { Embedder } from "./embedder.ts";
import { FakeTime } from "./_fake_time.ts";

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

Deno.test("runPipeline rejects with a failing stage's error without hanging", async (t) => {
  await t.step("embedder fails", async () => {
    using time = new FakeTime();
    const { embedder, calls } = fakeEmbedder({ failOnCall: 2, latencyMs: 10 });
    let sourceFinalized = false;
    async function* endless() {
      try {
        for (let i = 0;; i++) yield `x${i}`;
      } finally {
        sourceFinalized = true;
      }
    }
    const run = runPipeline({ inputs: endless(), embedder, batchSize: 10, write: () => {} });
    const outcome = run.then(() => "resolved", (e: Error) => e.message);
    await time.tick(100, true);
    assert.equal(await outcome, "call 2 failed");
    assert.equal(sourceFinalized, true);
    assert.equal(calls.length, 2);
  });
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
  await t.step("embedder returns the wrong number of vectors", async () => {
    const short: Embedder = { embed: (texts) => Promise.resolve(texts.slice(1).map(() => [0])) };
    const written: unknown[] = [];
    await assert.rejects(
      runPipeline({ inputs: ["a", "b"], embedder: short, write: (o) => void written.push(o) }),
      { name: "RangeError", message: /expected 2 vectors for batch 0, received 1/ },
    );
    assert.deepEqual(written, [], "no misaligned vector reaches the output");
  });
  await t.step("non-string input without a text option", async () => {
    const { embedder } = fakeEmbedder();
    await assert.rejects(
      runPipeline<unknown>({ inputs: [42], embedder, write: () => {} }),
      { name: "TypeError", message: /expected a string .* received number/ },
    );
  });
});

Deno.test("runPipeline stops on abort and rejects with the signal's reason", async () => {
  using time = new FakeTime();
  const { embedder, calls } = fakeEmbedder({ latencyMs: 1000 });
  const controller = new AbortController();
  const written: string[] = [];
  const run = runPipeline({
    inputs: Array.from({ length: 50 }, (_, i) => `t${i}`),
    embedder,
    batchSize: 10,
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
});

Deno.test("runPipeline embeds a text taken from structured inputs", async () => {
  const { embedder } = fakeEmbedder();
  const docs = [{ id: "a", body: "hello" }, { id: "b", body: "hi" }];
  const out: [string, number[]][] = [];
  await runPipeline({
    inputs: docs,
    embedder,
    text: (d) => d.body,
    write: ({ item, embedding }) => void out.push([item.id, embedding]),
  });
  assert.deepEqual(out, [["a", [5, 104]], ["b", [2, 104]]]);
});
