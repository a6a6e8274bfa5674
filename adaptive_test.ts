import assert from "node:assert/strict";
import { AdaptivePolicy, type BatchFeedback, type CallObservation } from "./adaptive.ts";
import { type Batch, Batcher } from "./batcher.ts";
import { Channel } from "./channel.ts";
import { embedBatches, type EmbeddedBatch, runPipeline } from "./pipeline.ts";
import { ResilientEmbedder } from "./resilience/resilient_embedder.ts";
import { FakeTime, flush } from "./internal/fake_time.ts";

/** Runs an adaptive batcher stage between two channels and records what it emits. */
function harness(batchSize: number, timeout: number, initialLatency = 100) {
  const batcher = new Batcher<number>({ batchSize, timeout, strategy: "adaptive", initialLatency });
  const input = new Channel<number>(10_000);
  const output = new Channel<Batch<number>>(10_000);
  const stage = batcher.batch(input, output);
  const emitted: Batch<number>[] = [];
  const collecting = (async () => {
    for await (const batch of output) emitted.push(batch);
  })();
  let next = 0;
  return {
    batcher,
    input,
    emitted,
    /** Sends the next `count` numbers now. */
    async send(count = 1) {
      for (let i = 0; i < count; i++) assert.ok(input.trySend(next++));
      await flush();
    },
    async done() {
      input.close();
      await stage;
      await collecting;
      assert.deepEqual(emitted.flatMap((b) => b.items), Array.from({ length: next }, (_, i) => i));
    },
  };
}

Deno.test("Adaptive batcher sends trickling items one by one, at once", async () => {
  using time = new FakeTime();
  const h = harness(100, 1000);
  for (let i = 0; i < 20; i++) {
    await h.send();
    h.batcher.observeCall({ latencyMs: 100, items: 1 });
    await time.tick(500);
  }
  await h.done();
  assert.equal(h.emitted.length, 20);
  for (const batch of h.emitted) {
    assert.equal(batch.items.length, 1);
    assert.equal(batch.reason, "size");
    assert.equal(batch.emittedAt, batch.openedAt, "a trickling item does not wait");
  }
});

Deno.test("Adaptive batcher fills whole batches when items pour in", async () => {
  using time = new FakeTime();
  const h = harness(100, 1000);
  // 1,000 items/s against 100 ms calls: 150 arrive per 1.5 latencies, so batches fill up.
  for (let ms = 0; ms < 3000; ms++) {
    await h.send();
    if (ms % 100 === 0) h.batcher.observeCall({ latencyMs: 100, items: 100 });
    await time.tick(1);
  }
  const warmedUp = h.emitted.filter((b) => b.openedAt >= 500);
  assert.ok(warmedUp.length >= 20, `${warmedUp.length} batches after warm-up`);
  for (const batch of warmedUp) {
    assert.equal(batch.items.length, 100);
    assert.equal(batch.reason, "size");
    assert.equal(batch.emittedAt - batch.openedAt, 99, "left as soon as it was full");
  }
  // The first batches, before the rate was known, were smaller but left quickly.
  assert.ok(h.emitted[0]!.items.length < 100);
  assert.ok(h.emitted[0]!.emittedAt - h.emitted[0]!.openedAt <= 100);
  await h.done();
});

Deno.test("Adaptive batcher goes back to single items when a burst is over", async () => {
  using time = new FakeTime();
  const h = harness(100, 1000);
  h.batcher.observeCall({ latencyMs: 100, items: 1 });
  await h.send(500); // a burst, all at once
  await time.tick(1);
  assert.deepEqual(h.emitted.map((b) => b.items.length), [100, 100, 100, 100, 100]);
  for (let i = 0; i < 30; i++) {
    await time.tick(1800);
    await h.send();
    await time.tick(200, true); // millisecond by millisecond, to see exactly when it leaves
  }
  const trickle = h.emitted.slice(5);
  assert.equal(trickle.length, 30);
  // The rate estimate decays over about ten arrivals (an EWMA of the gaps, each
  // capped at 1.5 latencies); meanwhile an item waits at most about 1.5 latencies.
  for (const batch of trickle) {
    assert.equal(batch.items.length, 1);
    assert.ok(batch.emittedAt - batch.openedAt <= 225, `${batch.emittedAt - batch.openedAt} ms`);
  }
  // Then every item goes alone, at once.
  for (const batch of trickle.slice(15)) assert.equal(batch.emittedAt, batch.openedAt);
  await h.done();
});

Deno.test("Adaptive batcher holds batches while the downstream is saturated, up to maxWait", async (t) => {
  using time = new FakeTime();
  const h = harness(100, 1000);
  h.batcher.observeCall({ latencyMs: 100, items: 1 });

  await t.step("a quota-bound downstream: batches leave only at maxWait", async () => {
    h.batcher.setBackpressure(true);
    // 20 items/s would make batches of ~3 (1.5 × 100 ms × 20/s); saturated, they keep growing.
    for (let i = 0; i < 20; i++) {
      await h.send();
      await time.tick(50);
    }
    assert.equal(h.emitted.length, 1);
    assert.equal(h.emitted[0]?.reason, "timeout");
    assert.equal(h.emitted[0]!.emittedAt - h.emitted[0]!.openedAt, 1000, "never past maxWait");
    assert.equal(h.emitted[0]?.items.length, 20);
  });

  await t.step("a flood while saturated fills batchSize", async () => {
    await h.send(150);
    assert.equal(h.emitted.length, 2);
    assert.equal(h.emitted[1]?.items.length, 100);
    assert.equal(h.emitted[1]?.reason, "size");
  });

  await t.step("the release lets the held batch leave at once", async () => {
    await time.tick(300);
    assert.equal(h.emitted.length, 2, "50 items still held");
    h.batcher.setBackpressure(false);
    await flush();
    assert.equal(h.emitted.length, 3);
    assert.equal(h.emitted[2]?.items.length, 50);
    assert.equal(h.emitted[2]?.emittedAt, 1300);
  });

  h.batcher.setBackpressure(false);
  await h.done();
});

Deno.test("Adaptive batcher ends a held batch when the input closes", async () => {
  using _time = new FakeTime();
  const h = harness(100, 5000);
  h.batcher.setBackpressure(true);
  await h.send(3);
  assert.equal(h.emitted.length, 0);
  await h.done();
  assert.deepEqual(h.emitted.map((b) => [b.items.length, b.reason]), [[3, "end"]]);
});

Deno.test("Adaptive batcher rejects with the signal's reason while holding a batch", async () => {
  using _time = new FakeTime();
  const batcher = new Batcher<number>({ batchSize: 10, timeout: Infinity, strategy: "adaptive" });
  batcher.setBackpressure(true);
  const input = new Channel<number>(10);
  const output = new Channel<Batch<number>>(10);
  const controller = new AbortController();
  const stage = batcher.batch(input, output, { signal: controller.signal });
  await input.send(1);
  await flush();
  controller.abort(new Error("stop"));
  await assert.rejects(stage, { message: "stop" });
  assert.equal(output.closed, false);
});

Deno.test("Fixed batcher ignores feedback", async () => {
  using time = new FakeTime();
  const batcher = new Batcher<number>({ batchSize: 10, timeout: 100 });
  assert.equal(batcher.strategy, "fixed");
  batcher.setBackpressure(true);
  batcher.observeCall({ latencyMs: 5000, items: 10 });
  const input = new Channel<number>(10);
  const output = new Channel<Batch<number>>(10);
  const stage = batcher.batch(input, output);
  await input.send(1);
  await time.tick(100);
  const first = output.tryReceive();
  assert.ok(first.ok);
  assert.equal(first.value.reason, "timeout");
  input.close();
  await stage;
});

Deno.test("Batcher rejects an unknown strategy or a bad initialLatency", async (t) => {
  await t.step("strategy", () => {
    assert.throws(
      // @ts-expect-error: not a strategy
      () => new Batcher({ batchSize: 1, timeout: 1, strategy: "greedy" }),
      {
        name: "RangeError",
        message: 'Cannot create batcher: strategy must be "fixed" or "adaptive", received "greedy"',
      },
    );
  });
  await t.step("initialLatency", () => {
    assert.throws(
      () => new Batcher({ batchSize: 1, timeout: 1, strategy: "adaptive", initialLatency: -5 }),
      { name: "RangeError", message: /^Cannot create batcher: Cannot parse initialLatency:.*-5$/ },
    );
    assert.throws(
      () => new Batcher({ batchSize: 1, timeout: 1, strategy: "adaptive", initialLatency: "inf" }),
      /initialLatency must be finite, received inf/,
    );
  });
});

Deno.test("AdaptivePolicy estimates the rate and the latency", async (t) => {
  await t.step("items drained together count as equal gaps", () => {
    const one = new AdaptivePolicy({ batchSize: 100, maxWait: 1000 });
    const many = new AdaptivePolicy({ batchSize: 100, maxWait: 1000 });
    one.observeArrivals(1, 0);
    many.observeArrivals(1, 0);
    for (let i = 1; i <= 10; i++) one.observeArrivals(1, i * 3);
    many.observeArrivals(10, 30);
    assert.ok(Math.abs(one.arrivalGapMs - many.arrivalGapMs) < 1e-9);
  });
  await t.step("a long silence counts as at most 1.5 latencies", () => {
    const policy = new AdaptivePolicy({ batchSize: 100, maxWait: 1000, smoothing: 1 });
    policy.observeArrivals(1, 0);
    policy.observeArrivals(1, 60_000);
    assert.equal(policy.arrivalGapMs, 150);
  });
  await t.step("latency is an EWMA of observed calls; nonsense samples are ignored", () => {
    const policy = new AdaptivePolicy({ batchSize: 100, maxWait: 1000, smoothing: 0.5 });
    policy.observeCall({ latencyMs: 300, items: 1 });
    assert.equal(policy.latencyMs, 200);
    policy.observeCall({ latencyMs: NaN, items: 1 });
    policy.observeCall({ latencyMs: -1, items: 1 });
    assert.equal(policy.latencyMs, 200);
  });
  await t.step("the wait is never past maxWait", () => {
    const policy = new AdaptivePolicy({ batchSize: 100, maxWait: 50, initialLatencyMs: 400 });
    assert.equal(policy.waitMs(policy.targetSize()), 50);
  });
  await t.step("bad options", () => {
    assert.throws(() => new AdaptivePolicy({ batchSize: 1, maxWait: 1, smoothing: 0 }), {
      name: "RangeError",
      message: "Cannot create adaptive policy: smoothing must be in (0, 1], received 0",
    });
    assert.throws(() => new AdaptivePolicy({ batchSize: 1, maxWait: 1, initialLatencyMs: NaN }), {
      name: "RangeError",
      message:
        "Cannot create adaptive policy: initialLatencyMs must be a non-negative finite number, received NaN",
    });
  });
});

Deno.test("embedBatches reports each call's latency and its busy time to the feedback", async () => {
  using time = new FakeTime();
  const events: string[] = [];
  const feedback: BatchFeedback = {
    observeCall: (o: CallObservation) => void events.push(`call ${o.latencyMs}ms ${o.items}`),
    setBackpressure: (saturated) => void events.push(saturated ? "busy" : "free"),
  };
  const embedder = {
    async embed(texts: readonly string[]) {
      events.push(`embed ${texts.length}`);
      await new Promise((resolve) => setTimeout(resolve, 40));
      return texts.map(() => [1]);
    },
  };
  const batches = new Channel<Batch<string>>(2);
  const batch = (items: string[], index: number): Batch<string> => ({
    items,
    reason: "size",
    index,
    openedAt: 0,
    emittedAt: 0,
  });
  batches.trySend(batch(["a", "b"], 0));
  batches.trySend(batch(["c"], 1));
  batches.close();
  const output = new Channel<EmbeddedBatch<string>>(2);
  const stage = embedBatches(batches, output, new ResilientEmbedder(embedder), (s) => s, {
    feedback,
    concurrency: 1,
  });
  await time.tick(40);
  await time.tick(40);
  assert.equal(await stage, 3);
  // One slot: after starting a batch the stage finds it taken (busy) until the call ends.
  assert.deepEqual(events, [
    "busy",
    "embed 2",
    "call 40ms 2",
    "free",
    "busy",
    "embed 1",
    "call 40ms 1",
    "free",
  ]);
});

Deno.test("runPipeline with the adaptive strategy writes every input in order", async () => {
  using time = new FakeTime();
  const embedder = {
    async embed(texts: readonly string[]) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return texts.map((t) => [t.length]);
    },
  };
  async function* arrivals() {
    for (let i = 0; i < 300; i++) {
      if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 3000));
      yield `item-${i}`;
    }
  }
  const written: string[] = [];
  const sizes: number[] = [];
  const run = runPipeline({
    inputs: arrivals(),
    embedder,
    batchSize: 50,
    timeout: 1000,
    strategy: "adaptive",
    onBatch: (b) => void sizes.push(b.items.length),
    write: ({ text }) => void written.push(text),
  });
  for (let i = 0; i < 12_000; i += 100) await time.tick(100);
  const summary = await run;
  assert.deepEqual(written, Array.from({ length: 300 }, (_, i) => `item-${i}`));
  assert.equal(summary.calls, sizes.length);
  assert.ok(sizes.every((n) => n >= 1 && n <= 50));
  // Each burst of 100 goes out in a few batches, not in 100 calls.
  assert.ok(summary.calls <= 12, `${summary.calls} calls: ${sizes}`);
});

Deno.test("AdaptivePolicy with an rpm budget spaces departures 60 000 / rpm apart", () => {
  const policy = new AdaptivePolicy({ batchSize: 100, maxWait: 1000, rpm: 60 });
  assert.equal(policy.rpm, 60);
  assert.equal(policy.earliestDeparture(), -Infinity);
  policy.observeDeparture(5000);
  assert.equal(policy.earliestDeparture(), 6000);
  const unlimited = new AdaptivePolicy({ batchSize: 100, maxWait: 1000 });
  unlimited.observeDeparture(5000);
  assert.equal(unlimited.earliestDeparture(), -Infinity);
});

Deno.test("AdaptivePolicy learns a budget below the call rate that drew a 429, and never raises it", () => {
  const policy = new AdaptivePolicy({ batchSize: 100, maxWait: 1000 });
  for (let t = 0; t <= 70_000; t += 1000) policy.observeDeparture(t); // 60 calls/min
  policy.observeQuotaExceeded(70_000);
  assert.equal(policy.rpm, 54); // 90% of the 60 departures in the last minute
  assert.equal(policy.earliestDeparture(), 70_000 + 60_000 / 54);
  policy.observeQuotaExceeded(70_000); // still 60 in the window: 54 is not lower
  assert.equal(policy.rpm, 54);
  policy.observeDeparture(200_000);
  policy.observeQuotaExceeded(200_000); // one call in the last minute: budget 1
  assert.equal(policy.rpm, 1);
});

Deno.test("AdaptivePolicy rejects a non-positive rpm", () => {
  for (const rpm of [0, -1, NaN]) {
    assert.throws(
      () => new AdaptivePolicy({ batchSize: 10, maxWait: 100, rpm }),
      (e) => e instanceof RangeError && e.message.includes(`received ${rpm}`),
    );
  }
});

Deno.test("runPipeline's adaptive strategy learns a budget from a 429 and plans within it", async () => {
  using time = new FakeTime();
  const { GeminiApiError } = await import("./errors.ts");
  let calls = 0;
  const embedder = {
    embed(texts: readonly string[]): Promise<number[][]> {
      // The 10th call is refused for quota, once; its retry succeeds.
      if (++calls === 10) {
        return Promise.reject(
          new GeminiApiError({ status: 429, code: "RESOURCE_EXHAUSTED", message: "quota" }),
        );
      }
      return new Promise((resolve) => setTimeout(() => resolve(texts.map(() => [1])), 20));
    },
  };
  async function* trickle() {
    for (let i = 0; i < 40; i++) {
      yield `t${i}`;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const departures: number[] = [];
  const summary = await time.until(
    runPipeline({
      inputs: trickle(),
      embedder,
      strategy: "adaptive",
      batchSize: 100,
      timeout: 1000,
      retry: { maxAttempts: 3, initialDelay: 200, random: () => 0.5 }, // a 100 ms retry delay
      onBatch: (batch) => void departures.push(batch.emittedAt),
      write: () => {},
    }),
    10,
  );
  assert.equal(summary.succeeded, 40);
  assert.equal(summary.rateLimited, 1);
  // Before the refusal a trickle goes out one item per call, 100 ms apart. The
  // 429 is reported when the refused call settles (after its retry), when at
  // most `learned + 1` batches have left: the
  // budget becomes at most 90% of that a minute, and every batch from then on
  // leaves at least 60 000 / budget ms after the one before.
  const gaps = departures.slice(1).map((t, i) => t - departures[i]!);
  assert.ok(gaps.slice(0, 8).every((gap) => gap < 1000), `early gaps ${gaps.slice(0, 8)}`);
  const learned = gaps.findIndex((gap) => gap >= 1000);
  assert.ok(learned >= 9 && learned <= 12, `first long gap at ${learned}: ${gaps}`);
  const budget = Math.floor(0.9 * (learned + 1));
  const after = gaps.slice(learned);
  assert.ok(after.every((gap) => gap >= 60_000 / budget), `gaps after the 429: ${after}`);
});
