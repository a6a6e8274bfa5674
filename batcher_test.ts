import assert from "node:assert/strict";
import { type Batch, Batcher } from "./batcher.ts";
import { Channel } from "./channel.ts";
import { FakeTime, flush } from "./internal/fake_time.ts";
import { seededRandom } from "./internal/random.ts";

/** Runs a batcher stage between two channels and records what it emits. */
function harness(batchSize: number, timeout: number | string, preload: number[] = []) {
  const input = new Channel<number>(1000);
  for (const n of preload) assert.ok(input.trySend(n));
  const output = new Channel<Batch<number>>(1000);
  const stage = new Batcher<number>({ batchSize, timeout }).batch(input, output);
  const emitted: Batch<number>[] = [];
  const collecting = (async () => {
    for await (const batch of output) emitted.push(batch);
  })();
  return {
    input,
    emitted,
    async done() {
      await stage;
      await collecting;
    },
  };
}

Deno.test("Batcher emits a full batch at batchSize without waiting", async () => {
  using _time = new FakeTime();
  const h = harness(3, 1000);
  for (const n of [1, 2, 3]) await h.input.send(n);
  await flush();
  assert.equal(h.emitted.length, 1);
  assert.deepEqual(h.emitted[0]?.items, [1, 2, 3]);
  assert.equal(h.emitted[0]?.reason, "size");
  assert.equal(h.emitted[0]?.emittedAt, 0);
  h.input.close();
  await h.done();
});

Deno.test("Batcher emits a partial batch exactly when the timeout expires", async () => {
  using time = new FakeTime();
  const h = harness(8, 1000);
  await h.input.send(1);
  await h.input.send(2);
  await time.tick(999);
  assert.equal(h.emitted.length, 0, "not one millisecond early");
  await time.tick(1);
  assert.equal(h.emitted.length, 1);
  assert.deepEqual(h.emitted[0]?.items, [1, 2]);
  assert.equal(h.emitted[0]?.reason, "timeout");
  assert.equal(h.emitted[0]!.emittedAt - h.emitted[0]!.openedAt, 1000);
  h.input.close();
  await h.done();
  assert.equal(h.emitted.length, 1);
});

Deno.test("Batcher starts a batch's timer at its first item", async () => {
  using time = new FakeTime();
  const h = harness(8, "1s");
  await time.tick(5000); // idle: no batch is open, so nothing is timing
  await h.input.send(1);
  await time.tick(400);
  await h.input.send(2); // a later item does not restart the clock
  await time.tick(599);
  assert.equal(h.emitted.length, 0);
  await time.tick(1);
  assert.equal(h.emitted.length, 1);
  assert.equal(h.emitted[0]?.openedAt, 5000);
  assert.equal(h.emitted[0]?.emittedAt, 6000);
  // The next batch gets its own full timeout from its own first item.
  await time.tick(250);
  await h.input.send(3);
  await time.tick(999);
  assert.equal(h.emitted.length, 1);
  await time.tick(1);
  assert.deepEqual(h.emitted.map((b) => [b.items, b.reason]), [[[1, 2], "timeout"], [
    [3],
    "timeout",
  ]]);
  h.input.close();
  await h.done();
});

Deno.test("Batcher flushes the final partial batch on close", async () => {
  using _time = new FakeTime();
  const h = harness(4, 1000);
  for (const n of [1, 2, 3, 4, 5, 6]) await h.input.send(n);
  h.input.close();
  await h.done();
  assert.deepEqual(h.emitted.map((b) => [b.items, b.reason, b.index]), [
    [[1, 2, 3, 4], "size", 0],
    [[5, 6], "end", 1],
  ]);
});

Deno.test("Batcher shuts down cleanly on empty input", async () => {
  using _time = new FakeTime();
  const h = harness(4, 1000);
  h.input.close();
  await h.done();
  assert.deepEqual(h.emitted, []);
});

Deno.test("Batcher keeps order and loses or duplicates nothing under random arrivals", async (t) => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    await t.step(`seed ${seed}`, async () => {
      using time = new FakeTime();
      const random = seededRandom(seed);
      const batchSize = 1 + Math.floor(random() * 10);
      const timeout = 1 + Math.floor(random() * 50);
      const h = harness(batchSize, timeout);
      const count = 300;
      for (let i = 0; i < count; i++) {
        await time.tick(Math.floor(random() * 20), true);
        await h.input.send(i);
      }
      h.input.close();
      await h.done();
      const all = h.emitted.flatMap((b) => b.items);
      assert.deepEqual(all, Array.from({ length: count }, (_, i) => i));
      for (const batch of h.emitted) {
        assert.ok(batch.items.length >= 1 && batch.items.length <= batchSize);
        assert.ok(batch.emittedAt - batch.openedAt <= timeout, "no item waits past the timeout");
        if (batch.reason === "size") assert.equal(batch.items.length, batchSize);
      }
      assert.deepEqual(h.emitted.map((b) => b.index), h.emitted.map((_, i) => i));
    });
  }
});

Deno.test("Batcher uses at most one timer per batch and none for already-buffered items", async (t) => {
  using time = new FakeTime();
  const original = AbortSignal.timeout;
  let timers = 0;
  AbortSignal.timeout = (ms: number) => {
    timers++;
    return original.call(AbortSignal, ms);
  };
  try {
    await t.step("buffered burst", async () => {
      const h = harness(100, 1000, Array.from({ length: 1000 }, (_, i) => i));
      h.input.close();
      await h.done();
      assert.equal(h.emitted.length, 10);
      assert.equal(timers, 0);
    });
    await t.step("trickle", async () => {
      timers = 0;
      const h = harness(10, 1000);
      for (let i = 0; i < 100; i++) {
        await h.input.send(i);
        await time.tick(1);
      }
      h.input.close();
      await h.done();
      assert.equal(h.emitted.length, 10);
      assert.ok(timers <= 10, `expected at most 10 timers, saw ${timers}`);
      assert.ok(timers >= 1);
    });
  } finally {
    AbortSignal.timeout = original;
  }
});

Deno.test("Batcher with an infinite timeout emits only full and final batches", async () => {
  using time = new FakeTime();
  const h = harness(3, Infinity);
  await h.input.send(1);
  await time.tick(1_000_000);
  assert.equal(h.emitted.length, 0);
  await h.input.send(2);
  h.input.close();
  await h.done();
  assert.deepEqual(h.emitted.map((b) => b.reason), ["end"]);
});

Deno.test("Batcher stage rejects with the signal's reason and leaves its output open", async () => {
  using _time = new FakeTime();
  const input = new Channel<number>(10);
  const output = new Channel<Batch<number>>(10);
  const controller = new AbortController();
  const stage = new Batcher<number>({ batchSize: 5, timeout: 1000 }).batch(input, output, {
    signal: controller.signal,
  });
  await input.send(1);
  await flush();
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(stage, (e) => e === reason);
  assert.equal(output.closed, false);
});

Deno.test("Batcher.batches batches sync and async iterables", async (t) => {
  await t.step("sync iterable", async () => {
    const batcher = new Batcher<number>({ batchSize: 2, timeout: 1000 });
    const batches = await Array.fromAsync(batcher.batches([1, 2, 3, 4, 5]));
    assert.deepEqual(batches.map((b) => b.items), [[1, 2], [3, 4], [5]]);
  });
  await t.step("async generator with timed arrivals", async () => {
    using time = new FakeTime();
    async function* source() {
      yield 1;
      await new Promise((r) => setTimeout(r, 300));
      yield 2;
      await new Promise((r) => setTimeout(r, 5000));
      yield 3;
    }
    const batcher = new Batcher<number>({ batchSize: 10, timeout: 1000 });
    const collected: [number[], string, number][] = [];
    const done = (async () => {
      for await (const b of batcher.batches(source())) {
        collected.push([b.items, b.reason, b.emittedAt]);
      }
    })();
    await time.tick(6000, true);
    await done;
    assert.deepEqual(collected, [[[1, 2], "timeout", 1000], [[3], "end", 5300]]);
  });
  await t.step("a channel as the source", async () => {
    const channel = new Channel<number>(5);
    for (const n of [1, 2, 3]) await channel.send(n);
    channel.close();
    const batcher = new Batcher<number>({ batchSize: 2, timeout: 1000 });
    const batches = await Array.fromAsync(batcher.batches(channel));
    assert.deepEqual(batches.map((b) => b.items), [[1, 2], [3]]);
  });
});

Deno.test("Batcher.batches flushes what a failing source produced, then rethrows", async () => {
  async function* failing() {
    yield "a";
    yield "b";
    throw new Error("source broke");
  }
  const batcher = new Batcher<string>({ batchSize: 10, timeout: 1000 });
  const seen: string[][] = [];
  await assert.rejects(async () => {
    for await (const batch of batcher.batches(failing())) seen.push(batch.items);
  }, /source broke/);
  assert.deepEqual(seen, [["a", "b"]]);
});

Deno.test("Batcher.batches stops the source when the consumer breaks out", async () => {
  let finalized = false;
  let produced = 0;
  function* endless() {
    try {
      while (true) yield produced++;
    } finally {
      finalized = true;
    }
  }
  const batcher = new Batcher<number>({ batchSize: 5, timeout: 1000 });
  for await (const batch of batcher.batches(endless())) {
    assert.deepEqual(batch.items, [0, 1, 2, 3, 4]);
    break;
  }
  assert.equal(finalized, true);
  assert.ok(produced < 20, `source kept running: ${produced} items`);
});

Deno.test("Batcher rejects invalid options with the received value", async (t) => {
  for (const batchSize of [0, -1, 1.5, NaN]) {
    await t.step(`batchSize ${batchSize}`, () => {
      assert.throws(() => new Batcher({ batchSize, timeout: 10 }), {
        name: "RangeError",
        message:
          `Cannot create batcher: batchSize must be a positive integer, received ${batchSize}`,
      });
    });
  }
  for (const timeout of [-1, "soon", "-5ms", NaN]) {
    await t.step(`timeout ${String(timeout)}`, () => {
      assert.throws(() => new Batcher({ batchSize: 1, timeout }), (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.match(e.message, /^Cannot create batcher: Cannot parse timeout/);
        assert.ok(e.message.includes(JSON.stringify(timeout)));
        return true;
      });
    });
  }
  await t.step("string durations", () => {
    assert.equal(new Batcher({ batchSize: 1, timeout: "250ms" }).timeout, 250);
    assert.equal(new Batcher({ batchSize: 1, timeout: "1.5s" }).timeout, 1500);
    assert.equal(new Batcher({ batchSize: 1, timeout: 0 }).timeout, 0);
  });
});

Deno.test("Batcher never emits a batch before timeout has passed since its first item", async (t) => {
  for (const strategy of ["fixed", "adaptive"] as const) {
    await t.step(`${strategy}: first item at a fractional millisecond`, async () => {
      using time = new FakeTime();
      const input = new Channel<number>(10);
      const output = new Channel<Batch<number>>(10);
      const batcher = new Batcher<number>({ batchSize: 10, timeout: 10, strategy });
      batcher.setBackpressure(true); // adaptive: hold the batch for its whole timeout
      const stage = batcher.batch(input, output);
      await time.tick(0.6);
      await input.send(1);
      await time.tick(9.9); // 10.5: 9.9 ms after the first item
      assert.equal(output.size, 0, "left before its deadline");
      await time.tick(0.1);
      const batch = output.tryReceive();
      assert.ok(batch.ok, "left on its deadline");
      assert.equal(batch.value.reason, "timeout");
      assert.ok(batch.value.emittedAt - batch.value.openedAt >= 10);
      input.close();
      await stage;
    });

    await t.step(`${strategy}: a timer that fires early is re-armed for the rest`, async () => {
      using time = new FakeTime();
      const original = AbortSignal.timeout;
      // A timer source coarser than the clock: every timer fires 1 ms early.
      AbortSignal.timeout = (ms: number) => original.call(AbortSignal, Math.max(0, ms - 1));
      try {
        const input = new Channel<number>(10);
        const output = new Channel<Batch<number>>(10);
        const batcher = new Batcher<number>({ batchSize: 10, timeout: 1000, strategy });
        batcher.setBackpressure(true);
        const stage = batcher.batch(input, output);
        await input.send(1);
        await time.tick(999);
        assert.equal(output.size, 0, "left when the early timer fired");
        await time.until((async () => {
          while (output.size === 0) await flush();
        })());
        const batch = output.tryReceive();
        assert.ok(batch.ok);
        assert.equal(batch.value.reason, "timeout");
        assert.ok(batch.value.emittedAt - batch.value.openedAt >= 1000);
        input.close();
        await stage;
      } finally {
        AbortSignal.timeout = original;
      }
    });
  }
});

Deno.test("Batcher adaptive with an rpm budget never plans calls closer than 60 000 / rpm", async () => {
  using time = new FakeTime();
  const input = new Channel<number>(100);
  const output = new Channel<Batch<number>>(100);
  // 60 calls per minute: batches at least 1 s apart, although the rule alone
  // would send each item at once (10 items/s, 100 ms latency: a trickle).
  const batcher = new Batcher<number>({
    batchSize: 100,
    timeout: 500,
    strategy: "adaptive",
    rpm: 60,
  });
  const stage = batcher.batch(input, output);
  for (let i = 0; i < 50; i++) {
    await input.send(i);
    await time.tick(100, true);
  }
  input.close();
  await time.until(stage, 10);
  const batches = await Array.fromAsync(output);
  assert.deepEqual(batches.flatMap((b) => b.items), Array.from({ length: 50 }, (_, i) => i));
  for (let i = 1; i < batches.length; i++) {
    const gap = batches[i]!.emittedAt - batches[i - 1]!.emittedAt;
    assert.ok(gap >= 1000, `batches ${i - 1} and ${i} left ${gap} ms apart`);
  }
  // 5 s of arrivals at one call per second spends the budget: 5 or 6 calls, not 50.
  assert.ok(batches.length >= 5 && batches.length <= 6, `${batches.length} batches`);
});

Deno.test("Batcher rejects a non-positive rpm for the adaptive strategy", () => {
  assert.throws(
    () => new Batcher({ batchSize: 10, timeout: 100, strategy: "adaptive", rpm: 0 }),
    (e) => e instanceof RangeError && e.message.includes("received 0"),
  );
});
