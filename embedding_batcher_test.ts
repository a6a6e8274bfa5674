import assert from "node:assert/strict";
import { EmbeddingBatcher } from "./embedding_batcher.ts";
import { EmbeddingBatcherClosedError, EmbeddingError, GeminiApiError } from "./errors.ts";
import type { Embedder } from "./embedder.ts";
import { FakeTime } from "./internal/fake_time.ts";
import { now } from "./internal/clock.ts";

function recording(options: { latencyMs?: number; bad?: string } = {}) {
  const calls: { texts: string[]; aborted: () => boolean }[] = [];
  const embedder: Embedder = {
    async embed(texts, { signal } = {}) {
      calls.push({ texts: [...texts], aborted: () => signal?.aborted ?? false });
      if (options.bad !== undefined && texts.includes(options.bad)) {
        throw new GeminiApiError({ status: 400, code: "INVALID_ARGUMENT", message: "bad text" });
      }
      if (options.latencyMs) {
        await new Promise<void>((resolve, reject) => {
          const id = setTimeout(resolve, options.latencyMs);
          signal?.addEventListener("abort", () => {
            clearTimeout(id);
            reject(signal.reason);
          }, { once: true });
        });
      }
      return texts.map((t) => [t.length]);
    },
  };
  return { embedder, calls };
}

Deno.test("EmbeddingBatcher coalesces concurrent callers and answers each with its own vector", async () => {
  using time = new FakeTime();
  const { embedder, calls } = recording();
  const batcher = new EmbeddingBatcher({ embedder, batchSize: 3, timeout: "100ms" });
  const answers = ["a", "bb", "ccc", "dddd"].map((t) => batcher.embed(t));
  await time.tick(99);
  assert.deepEqual(calls.map((c) => c.texts), [["a", "bb", "ccc"]], "the full batch left at once");
  await time.tick(1);
  assert.deepEqual(await Promise.all(answers), [[1], [2], [3], [4]]);
  assert.deepEqual(calls.map((c) => c.texts), [["a", "bb", "ccc"], ["dddd"]]);
  await batcher.close();
});

Deno.test("EmbeddingBatcher rejects a caller with its own typed error; the others succeed", async () => {
  using time = new FakeTime();
  const { embedder } = recording({ bad: "bad" });
  const batcher = new EmbeddingBatcher({ embedder, timeout: 10 });
  const good = batcher.embed("good");
  const bad = batcher.embed("bad").catch((e) => e);
  await time.tick(10);
  assert.deepEqual(await good, [4]);
  const error = await bad;
  assert.ok(error instanceof EmbeddingError);
  assert.equal(error.code, "INVALID_ARGUMENT");
  assert.equal(error.status, 400);
  await batcher.close();
});

Deno.test("EmbeddingBatcher shares one slot between identical waiting texts", async () => {
  using time = new FakeTime();
  const { embedder, calls } = recording();
  const batcher = new EmbeddingBatcher({ embedder, timeout: 10 });
  const answers = Promise.all(["same", "same", "other", "same"].map((t) => batcher.embed(t)));
  await time.tick(10);
  assert.deepEqual(await answers, [[4], [4], [5], [4]]);
  assert.deepEqual(calls.map((c) => c.texts), [["same", "other"]]);
  assert.equal(batcher.summary().items, 2);
  await batcher.close();
});

Deno.test("EmbeddingBatcher drops an aborted caller before its batch is sent", async () => {
  using time = new FakeTime();
  const { embedder, calls } = recording();
  const batcher = new EmbeddingBatcher({ embedder, timeout: 100 });
  const controller = new AbortController();
  const reason = new Error("client went away");
  const gone = batcher.embed("gone", { signal: controller.signal });
  const kept = batcher.embed("kept");
  controller.abort(reason);
  await assert.rejects(gone, (e) => e === reason);
  await time.tick(100);
  assert.deepEqual(await kept, [4]);
  assert.deepEqual(calls.map((c) => c.texts), [["kept"]]);
  assert.equal(batcher.summary().cancelled, 1);
  await batcher.close();
});

Deno.test("EmbeddingBatcher aborts a call in flight only when every caller in it has aborted", async () => {
  using time = new FakeTime();
  const { embedder, calls } = recording({ latencyMs: 1000 });
  const batcher = new EmbeddingBatcher({ embedder, timeout: 10 });
  const first = new AbortController();
  const second = new AbortController();
  const a = batcher.embed("a", { signal: first.signal }).catch((e) => e);
  const b = batcher.embed("b", { signal: second.signal }).catch((e) => e);
  await time.tick(10);
  assert.equal(calls.length, 1);
  first.abort(new Error("a left"));
  await time.tick(1);
  assert.equal(calls[0]!.aborted(), false, "b still waits");
  second.abort(new Error("b left"));
  await time.tick(1);
  assert.equal(calls[0]!.aborted(), true);
  assert.equal((await a).message, "a left");
  assert.equal((await b).message, "b left");
  await batcher.close();
  assert.equal(calls.length, 1, "an abandoned call is not retried");
});

Deno.test("EmbeddingBatcher close flushes, drains, then rejects new texts", async () => {
  using time = new FakeTime();
  const { embedder, calls } = recording({ latencyMs: 50 });
  const batcher = new EmbeddingBatcher({ embedder, timeout: "1h" });
  const pending = batcher.embed("waiting");
  const closing = batcher.close();
  await time.tick(50);
  await closing;
  assert.deepEqual(await pending, [7]);
  assert.equal(calls.length, 1);
  assert.equal(batcher.closed, true);
  await assert.rejects(batcher.embed("late"), EmbeddingBatcherClosedError);
  assert.equal(batcher.close(), closing);
});

Deno.test("EmbeddingBatcher keeps at most `concurrency` calls in flight", async () => {
  using time = new FakeTime();
  let inFlight = 0;
  let peak = 0;
  const embedder: Embedder = {
    async embed(texts) {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 100));
      inFlight--;
      return texts.map((t) => [t.length]);
    },
  };
  const batcher = new EmbeddingBatcher({ embedder, batchSize: 2, timeout: 5, concurrency: 2 });
  const answers = Promise.all(Array.from({ length: 20 }, (_, i) => batcher.embed(`t${i}`)));
  assert.equal((await time.until(answers)).length, 20);
  assert.equal(peak, 2);
  await batcher.close();
});

Deno.test("EmbeddingBatcher with the adaptive strategy sends a lone text before the timeout", async () => {
  using time = new FakeTime();
  const calls: number[] = [];
  const embedder: Embedder = {
    embed(texts) {
      calls.push(now());
      return Promise.resolve(texts.map((t) => [t.length]));
    },
  };
  const fixed = new EmbeddingBatcher({ embedder, timeout: "1s" });
  const adaptive = new EmbeddingBatcher({ embedder, timeout: "1s", strategy: "adaptive" });
  const a = adaptive.embed("alone");
  const f = fixed.embed("alone");
  assert.deepEqual(await time.until(a), [5]);
  assert.ok(calls.length === 1 && calls[0]! < 1000, `adaptive sent at ${calls[0]} ms`);
  assert.deepEqual(await time.until(f), [5]);
  assert.equal(calls[1], 1000, "the fixed strategy waits out its timeout");
  await adaptive.close();
  await fixed.close();
});
