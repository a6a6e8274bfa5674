import assert from "node:assert/strict";
import { CircuitBreaker } from "./circuit_breaker.ts";
import { ResilientEmbedder } from "./resilient_embedder.ts";
import { CircuitOpenError, GeminiApiError } from "../errors.ts";
import type { Embedder } from "../embedder.ts";
import { EmbeddingBatcher } from "../embedding_batcher.ts";
import { runPipeline } from "../pipeline.ts";
import { FakeTime } from "../internal/fake_time.ts";

const URL_4000 = "http://127.0.0.1:4000/v1/models/m:batchEmbedContents";

function refused(): TypeError {
  return new TypeError("fetch failed", {
    cause: new Error(
      `error sending request for url (${URL_4000}): client error (Connect): tcp connect error: Connection refused (os error 111)`,
    ),
  });
}

function dnsError(): TypeError {
  return new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (https://generativelanguage.googleapis.con/v1/x): client error (Connect): dns error: failed to lookup address information: Name or service not known",
    ),
  });
}

/** An embedder whose `n`-th call (from 1) does what `script(n)` says: "ok", "hang", or an error to throw. */
function scripted(script: (call: number) => "ok" | "hang" | Error) {
  const calls: number[] = [];
  const embedder: Embedder = {
    embed(texts) {
      calls.push(Date.now());
      const outcome = script(calls.length);
      if (outcome === "ok") return Promise.resolve(texts.map((t) => [t.length]));
      if (outcome === "hang") return new Promise(() => {});
      return Promise.reject(outcome);
    },
  };
  return { embedder, calls };
}

Deno.test("runPipeline stops at once with CircuitOpenError when the host refuses every connection", async () => {
  using time = new FakeTime();
  const { embedder, calls } = scripted(() => refused());
  let written = 0;
  const run = runPipeline({
    inputs: Array.from({ length: 20_000 }, (_, i) => `text ${i}`),
    embedder,
    write: () => void written++,
  });
  const error = await time.until(run.then(() => undefined, (e) => e), 10);
  assert.ok(error instanceof CircuitOpenError, String(error));
  assert.equal(error.kind, "unreachable");
  assert.equal(error.host, "127.0.0.1:4000");
  assert.equal(error.reason, "connection refused");
  assert.match(error.message, /^Cannot reach 127\.0\.0\.1:4000: connection refused/);
  assert.equal(written, 0, "no input gets an error record: none was tried to the end");
  assert.ok(calls.length <= 6, `a handful of calls, not 20,000 inputs' worth: ${calls.length}`);
  assert.ok(Date.now() < 5_000, `stopped within seconds of fake time, at ${Date.now()} ms`);
});

Deno.test("CircuitBreaker names a DNS error and the host from fetch's cause chain", () => {
  const breaker = new CircuitBreaker({ failFast: 1 });
  assert.throws(() => breaker.recordFailure(dnsError()), (error) => {
    assert.ok(error instanceof CircuitOpenError);
    assert.equal(error.reason, "dns error");
    assert.equal(error.host, "generativelanguage.googleapis.con");
    return true;
  });
});

Deno.test("A silent server stops the run after two call timeouts plus the backoff", async () => {
  using time = new FakeTime();
  const { embedder, calls } = scripted(() => "hang");
  const run = new ResilientEmbedder(embedder, {
    callTimeout: "30s",
    concurrency: 1,
    circuitBreaker: { host: "127.0.0.1:4001" },
  }).embedEach(["a", "b"]);
  const error = await time.until(run.then(() => undefined, (e) => e), 100);
  assert.ok(error instanceof CircuitOpenError, String(error));
  assert.equal(error.reason, "no answer within 30s");
  assert.equal(error.host, "127.0.0.1:4001");
  assert.equal(calls.length, 2);
  assert.ok(Date.now() <= 60_000 + 500 + 100, `at most 2 × 30 s + one backoff: ${Date.now()}`);
});

Deno.test("An outage after successes is waited out without spending attempts", async () => {
  using time = new FakeTime();
  // Calls 1-2 succeed; then the network is down for about 90 s.
  let downUntil = Infinity;
  const { embedder, calls } = scripted((call) => {
    if (call <= 2) return "ok";
    if (downUntil === Infinity) downUntil = Date.now() + 90_000;
    return Date.now() < downUntil ? refused() : "ok";
  });
  const resilient = new ResilientEmbedder(embedder, {
    concurrency: 1,
    retry: { maxAttempts: 2, maxDelay: "5s" },
  });
  const waiting: boolean[] = [];
  const results: string[] = [];
  const run = runPipeline({
    inputs: ["a", "b", "c", "d"],
    embedder: resilient,
    batchSize: 1,
    write: (r) => {
      results.push(r.ok ? "ok" : r.error.code);
    },
  });
  const watch = setInterval(() => waiting.push(resilient.circuitBreaker!.waiting), 1000);
  await time.until(run, 50);
  clearInterval(watch);
  assert.deepEqual(results, ["ok", "ok", "ok", "ok"], "no input failed despite maxAttempts 2");
  assert.ok(calls.length > 6, `retried through the outage: ${calls.length} calls`);
  assert.ok(waiting.includes(true), "the breaker said it was waiting out an outage");
  assert.equal(resilient.circuitBreaker!.state.failures, 0, "the outage ended");
});

Deno.test("An outage longer than maxOutage stops the run with CircuitOpenError", async () => {
  using time = new FakeTime();
  const { embedder } = scripted((call) => call === 1 ? "ok" : refused());
  const written: string[] = [];
  const run = runPipeline({
    inputs: ["a", "b", "c"],
    embedder,
    batchSize: 1,
    concurrency: 1,
    circuitBreaker: { maxOutage: "1m" },
    retry: { maxDelay: "2s" },
    write: (r) => void written.push(r.ok ? "ok" : r.error.code),
  });
  let settled: unknown = false;
  run.then(() => settled = "resolved", (e) => settled = e);
  for (let i = 0; i < 590; i++) await time.tick(100);
  assert.equal(settled, false, "still waiting before a minute of outage");
  const error = await time.until(run.then(() => undefined, (e) => e), 100);
  assert.ok(error instanceof CircuitOpenError, String(error));
  assert.equal(error.kind, "outage");
  assert.ok(error.outageMs >= 60_000);
  assert.match(error.message, /after earlier calls had succeeded/);
  assert.deepEqual(written, ["ok"], "only the input that succeeded was written");
});

Deno.test("CircuitBreaker: an answer from the server ends a run of failures", () => {
  const breaker = new CircuitBreaker();
  const unavailable = new GeminiApiError({ status: 503, code: "UNAVAILABLE", message: "busy" });
  for (let i = 0; i < 10; i++) {
    assert.equal(breaker.recordFailure(refused()), "network");
    assert.equal(breaker.recordFailure(refused()), "network");
    assert.equal(breaker.recordFailure(unavailable), undefined);
  }
  assert.equal(breaker.state.open, false);
  assert.equal(breaker.state.failures, 0);
});

Deno.test("EmbeddingBatcher callers reject with CircuitOpenError when the host is unreachable", async () => {
  using time = new FakeTime();
  const { embedder } = scripted(() => refused());
  const batcher = new EmbeddingBatcher({ embedder, batchSize: 2, timeout: 10 });
  const results = ["a", "b", "c"].map((t) => batcher.embed(t).then(() => undefined, (e) => e));
  const errors = await time.until(Promise.all(results), 10);
  for (const error of errors) assert.ok(error instanceof CircuitOpenError, String(error));
  await time.until(batcher.close(), 10);
});

Deno.test("CircuitBreaker: after a success a network error keeps the call's attempts, a lone timeout does not", () => {
  const breaker = new CircuitBreaker();
  assert.equal(breaker.isOutage(breaker.recordFailure(refused())), false, "nothing succeeded yet");
  breaker.recordSuccess();
  assert.equal(breaker.isOutage(breaker.recordFailure(refused())), true);
  breaker.recordSuccess();
  const timeout = () => new DOMException("Call timed out: no answer within 1s", "TimeoutError");
  assert.equal(breaker.isOutage(breaker.recordFailure(timeout())), false, "may be this call's own");
  assert.equal(breaker.isOutage(breaker.recordFailure(timeout())), false);
  assert.equal(breaker.isOutage(breaker.recordFailure(timeout())), true, "3 in a row: an outage");
  assert.equal(breaker.state.waiting, true);
});

Deno.test("CircuitBreaker lets calls through again after resetAfter; one failure reopens it, a success closes it", async () => {
  using time = new FakeTime();
  const breaker = new CircuitBreaker({ resetAfter: "30s" });
  for (let i = 0; i < 2; i++) breaker.recordFailure(refused());
  assert.throws(() => breaker.recordFailure(refused()), CircuitOpenError);
  await time.tick(29_999);
  assert.throws(() => breaker.throwIfOpen(), CircuitOpenError, "still open");
  await time.tick(1);
  breaker.throwIfOpen(); // half-open: a probe may go
  assert.throws(() => breaker.recordFailure(refused()), CircuitOpenError, "reopened at once");
  await time.tick(30_000);
  breaker.throwIfOpen();
  breaker.recordSuccess();
  assert.deepEqual([breaker.state.open, breaker.state.failures], [false, 0]);
});

Deno.test("A long-lived EmbeddingBatcher serves again once the API is back after its breaker opened", async () => {
  using time = new FakeTime();
  let down = true;
  const { embedder } = scripted(() => down ? refused() : "ok");
  const batcher = new EmbeddingBatcher({ embedder, batchSize: 1, timeout: 10 });
  const failed = await time.until(batcher.embed("a").then(() => undefined, (e) => e), 10);
  assert.ok(failed instanceof CircuitOpenError, String(failed));
  down = false;
  const refusedFast = await time.until(batcher.embed("b").then(() => undefined, (e) => e), 10);
  assert.ok(refusedFast instanceof CircuitOpenError, "open: refused without a call");
  await time.tick(30_000);
  assert.deepEqual(await time.until(batcher.embed("c"), 10), [1]);
  await time.until(batcher.close(), 10);
});
