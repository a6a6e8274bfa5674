import assert from "node:assert/strict";
import { QuotaLimiter } from "./quota_limiter.ts";
import { FakeTime } from "../internal/fake_time.ts";
import { seededRandom } from "../internal/random.ts";

Deno.test("QuotaLimiter never grants more than rpm requests or tpm tokens in any window", async () => {
  using time = new FakeTime();
  const random = seededRandom(42);
  const limiter = new QuotaLimiter({ rpm: 20, tpm: 3000, window: 1000 });
  const grants: { at: number; tokens: number }[] = [];
  let requested = 0;
  let lastArrival = 0;
  const pending: Promise<void>[] = [];
  // 600 requests arriving in random bursts over ~20 s of fake time.
  for (let step = 0; step < 400; step++) {
    const burst = Math.floor(random() * 4) * (random() < 0.3 ? 1 : 0);
    for (let i = 0; i < burst && requested < 600; i++, requested++) {
      const tokens = Math.floor(random() * 400);
      lastArrival = Date.now();
      pending.push(
        limiter.acquire(tokens).then(() => void grants.push({ at: Date.now(), tokens })),
      );
    }
    await time.tick(50);
  }
  while (grants.length < requested) await time.tick(100);
  await Promise.all(pending);
  assert.equal(grants.length, requested);
  grants.sort((a, b) => a.at - b.at);
  for (let i = 0; i < grants.length; i++) {
    let requests = 0;
    let tokens = 0;
    for (let j = i; j < grants.length && grants[j]!.at < grants[i]!.at + 1000; j++) {
      requests++;
      tokens += grants[j]!.tokens;
    }
    assert.ok(requests <= 20, `window at ${grants[i]!.at}: ${requests} requests`);
    assert.ok(tokens <= 3000, `window at ${grants[i]!.at}: ${tokens} tokens`);
  }
  // It is a limiter, not a brake: the run took about as long as the quota requires.
  const totalTokens = grants.reduce((sum, g) => sum + g.tokens, 0);
  const needed = Math.max(requested / 20, totalTokens / 3000);
  const bound = Math.max(lastArrival, needed * 1000) + 2000;
  assert.ok(grants.at(-1)!.at < bound, `${grants.at(-1)!.at} ms, bound ${bound}`);
});

Deno.test("QuotaLimiter grants first come, first served, waking exactly when a grant leaves the window", async () => {
  using time = new FakeTime();
  const limiter = new QuotaLimiter({ rpm: 2, window: 1000 });
  const order: [string, number][] = [];
  const grant = (name: string) =>
    limiter.acquire(1).then(() => void order.push([name, Date.now()]));
  await grant("a");
  await time.tick(300);
  await grant("b");
  const c = grant("c");
  const d = grant("d");
  await time.tick(699);
  assert.deepEqual(order.map(([n]) => n), ["a", "b"]);
  await time.tick(1);
  await c;
  await time.tick(300);
  await d;
  assert.deepEqual(order, [["a", 0], ["b", 300], ["c", 1000], ["d", 1300]]);
});

Deno.test("QuotaLimiter pause holds every grant until it ends", async () => {
  using time = new FakeTime();
  const limiter = new QuotaLimiter();
  limiter.pause(17_000);
  limiter.pause(5_000); // a shorter pause does not shorten it
  let granted = -1;
  const waiting = limiter.acquire(10).then(() => void (granted = Date.now()));
  await time.tick(16_999);
  assert.equal(granted, -1);
  await time.tick(1);
  await waiting;
  assert.equal(granted, 17_000);
});

Deno.test("QuotaLimiter acquire is cancellable and reserves nothing when aborted", async () => {
  using time = new FakeTime();
  const limiter = new QuotaLimiter({ rpm: 1, window: 1000 });
  await limiter.acquire(5);
  const controller = new AbortController();
  const reason = new Error("stop");
  const aborted = limiter.acquire(5, { signal: controller.signal });
  const next = limiter.acquire(7);
  controller.abort(reason);
  await assert.rejects(aborted, (e) => e === reason);
  await time.tick(1000);
  await next;
  assert.deepEqual(limiter.usage(), { requests: 1, tokens: 7 });
  await assert.rejects(
    limiter.acquire(1, { signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
});

Deno.test("QuotaLimiter grants a request over tpm alone, in an empty window", async () => {
  using time = new FakeTime();
  const limiter = new QuotaLimiter({ tpm: 100, window: 1000 });
  await limiter.acquire(10);
  let done = false;
  const big = limiter.acquire(500).then(() => void (done = true));
  await time.tick(999);
  assert.equal(done, false);
  await time.tick(1);
  await big;
});

Deno.test("QuotaLimiter rejects bad options", () => {
  assert.throws(() => new QuotaLimiter({ rpm: 0 }), /rpm must be a positive integer/);
  assert.throws(() => new QuotaLimiter({ tpm: 1.5 }), RangeError);
  assert.throws(() => new QuotaLimiter({ window: 0 }), RangeError);
  assert.throws(() => new QuotaLimiter().acquire(-1), RangeError);
});
