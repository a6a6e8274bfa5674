import assert from "node:assert/strict";
import { Coalescer, type CoalescerOptions } from "./_coalescer.ts";
import { HttpError } from "./_http_error.ts";
import type { EmbedGroup } from "./upstream.ts";
import { EmbeddingMetrics } from "../metrics.ts";
import { FakeTime } from "../internal/fake_time.ts";

function recording(overrides: Partial<CoalescerOptions> = {}) {
  const calls: { group: EmbedGroup; texts: string[] }[] = [];
  const coalescer = new Coalescer({
    upstream: (group) => ({
      embed(texts) {
        calls.push({ group, texts: [...texts] });
        return Promise.resolve(texts.map((t) => [t.length, group.dimensions ?? 0]));
      },
    }),
    batchSize: 100,
    timeout: "50ms",
    strategy: "fixed",
    maxQueue: 1000,
    maxGroups: 8,
    resilience: {},
    metrics: new EmbeddingMetrics(),
    ...overrides,
  });
  return { coalescer, calls };
}

const never = new AbortController().signal;
const g = (dimensions?: number): EmbedGroup => ({
  model: "m",
  ...(dimensions !== undefined && { dimensions }),
});

Deno.test("Coalescer joins texts of many requests into one call per group", async () => {
  using time = new FakeTime();
  const { coalescer, calls } = recording();
  const answers = [
    coalescer.embedAll([{ text: "a", group: g() }, { text: "bb", group: g() }], never),
    coalescer.embedAll([{ text: "ccc", group: g() }], never),
    coalescer.embedAll([{ text: "dddd", group: g(8) }], never),
    coalescer.embedAll([{ text: "a", group: g() }], never),
  ];
  assert.equal(coalescer.pending, 5);
  await time.tick(50);
  assert.deepEqual(await Promise.all(answers), [
    [[1, 0], [2, 0]],
    [[3, 0]],
    [[4, 8]],
    [[1, 0]],
  ]);
  assert.deepEqual(calls.map((c) => c.texts), [["a", "bb", "ccc"], ["dddd"]], '"a" sent once');
  assert.equal(coalescer.pending, 0);
  assert.equal(coalescer.groups, 2);
  await coalescer.close();
});

Deno.test("Coalescer refuses with 503 when the queue is full or closing", async () => {
  using time = new FakeTime();
  const { coalescer } = recording({ maxQueue: 2 });
  const first = coalescer.embedAll([{ text: "a", group: g() }, { text: "b", group: g() }], never);
  await assert.rejects(
    coalescer.embedAll([{ text: "c", group: g() }], never),
    (e) => e instanceof HttpError && e.status === 503 && e.init.retryAfter === 1,
  );
  const closed = coalescer.close();
  await assert.rejects(
    coalescer.embedAll([{ text: "d", group: g() }], never),
    (e) => e instanceof HttpError && e.status === 503 && /shutting down/.test(e.message),
  );
  await time.tick(0);
  assert.equal((await first).length, 2, "close sends what is queued");
  await closed;
});

Deno.test("Coalescer drops a withdrawn request's texts before they are sent", async () => {
  using time = new FakeTime();
  const { coalescer, calls } = recording();
  const client = new AbortController();
  const gone = coalescer.embedAll([{ text: "gone", group: g() }], client.signal);
  const stays = coalescer.embedAll([{ text: "stays", group: g() }], never);
  client.abort(new Error("disconnected"));
  await assert.rejects(gone, /disconnected/);
  await time.tick(50);
  assert.deepEqual(await stays, [[5, 0]]);
  assert.deepEqual(calls.map((c) => c.texts), [["stays"]]);
  await coalescer.close();
});

Deno.test("Coalescer refuses a text over its model's token limit before queueing anything", async () => {
  using time = new FakeTime();
  const { coalescer, calls } = recording();
  const long = "word ".repeat(3000); // over gemini-embedding-001's 2,048 tokens
  const request = coalescer.embedAll([
    { text: "fine", group: g() },
    { text: long, group: g() },
  ], never);
  await assert.rejects(
    request,
    (e) => e instanceof HttpError && e.status === 400 && /Text 1 is too long/.test(e.message),
  );
  await time.tick(50);
  assert.deepEqual(calls, []);
  assert.equal(coalescer.pending, 0);
  const v2 = coalescer.embedAll([{ text: long, group: { model: "gemini-embedding-2" } }], never);
  await time.tick(50);
  assert.equal((await v2).length, 1, "gemini-embedding-2 allows 8,192 tokens");
  await coalescer.close();
});

Deno.test("Coalescer fails a request whose text fails upstream, withdrawing its other texts", async () => {
  using time = new FakeTime();
  const { coalescer, calls } = recording({ batchSize: 1, resilience: { concurrency: 1 } });
  const request = coalescer.embedAll([
    { text: "", group: g() }, // reaches the upstream stage and fails there as EMPTY_TEXT
    { text: "queued behind", group: g() },
  ], never);
  await assert.rejects(request, (e: Error & { code?: string }) => e.code === "EMPTY_TEXT");
  await time.tick(50);
  assert.deepEqual(calls, [], "the request's other text was withdrawn before it was sent");
  assert.equal(coalescer.pending, 0);
  await coalescer.close();
});

Deno.test("Coalescer closes idle groups to make room and refuses when none is idle", async () => {
  using time = new FakeTime();
  const { coalescer } = recording({ maxGroups: 1 });
  const a = coalescer.embedAll([{ text: "a", group: g(1) }], never);
  await assert.rejects(
    coalescer.embedAll([{ text: "b", group: g(2) }], never),
    (e) => e instanceof HttpError && e.status === 503,
  );
  await time.tick(50);
  await a;
  const b = coalescer.embedAll([{ text: "b", group: g(2) }], never);
  await time.tick(50);
  assert.deepEqual(await b, [[1, 2]]);
  assert.equal(coalescer.groups, 1);
  await coalescer.close();
});
