import assert from "node:assert/strict";
import { ResilientEmbedder } from "./resilient_embedder.ts";
import { type Embedder, type EmbedInput, inputText } from "../embedder.ts";
import { estimateTokens } from "./tokens.ts";
import type { CallRecord } from "../metrics.ts";
import { GeminiApiError } from "../errors.ts";
import { FakeTime } from "../internal/fake_time.ts";
import { seededRandom } from "../internal/random.ts";

const vector = (text: string) => [text.length, text.charCodeAt(0)];

/** An embedder that answers with `script(call)` (an error to throw) or vectors, recording each call. */
function scripted(script: (texts: readonly string[], call: number) => unknown = () => undefined) {
  const calls: { texts: string[]; at: number }[] = [];
  const embedder: Embedder = {
    embed(texts) {
      calls.push({ texts: [...texts], at: Date.now() });
      const outcome = script(texts, calls.length);
      if (outcome instanceof Promise) return outcome as Promise<number[][]>;
      if (outcome !== undefined) return Promise.reject(outcome);
      return Promise.resolve(texts.map(vector));
    },
  };
  return { embedder, calls };
}

function quota(retryDelay: string): GeminiApiError {
  return new GeminiApiError({
    status: 429,
    code: "RESOURCE_EXHAUSTED",
    message: "Quota exceeded",
    details: [
      { "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [] },
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay },
    ],
  });
}

const badRequest = (message = "Request contains an invalid argument.") =>
  new GeminiApiError({ status: 400, code: "INVALID_ARGUMENT", message });

Deno.test("ResilientEmbedder honours RetryInfo exactly and pauses every other call meanwhile", async () => {
  using time = new FakeTime();
  const { embedder, calls } = scripted((_, call) => call === 1 ? quota("17s") : undefined);
  const records: CallRecord[] = [];
  const resilient = new ResilientEmbedder(embedder, { onCall: (r) => void records.push(r) });
  const first = resilient.embedEach(["a"]);
  await time.tick(5_000);
  const second = resilient.embedEach(["b"]); // arrives during the pause
  await time.tick(11_999);
  assert.equal(calls.length, 1, "nothing is sent before the delay has passed");
  await time.tick(1);
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual(calls.map((c) => c.at), [0, 17_000, 17_000]);
  assert.deepEqual(a[0]?.embedding, vector("a"));
  assert.deepEqual(b[0]?.embedding, vector("b"));
  const retried = records.find((r) => r.texts === 1 && r.attempts === 2);
  assert.deepEqual(retried?.failures, ["RESOURCE_EXHAUSTED"]);
  assert.equal(records.length, 2);
  assert.equal(resilient.concurrency, 3, "halved from 4 to 2, then up by one after two successes");
  assert.equal(resilient.metrics.summary().rateLimited, 1);
});

Deno.test("ResilientEmbedder retries transient errors with backoff, and not permanent ones", async (t) => {
  using time = new FakeTime();
  for (const status of [500, 502, 503, 504]) {
    await t.step(`retries ${status}`, async () => {
      const error = new GeminiApiError({ status, code: "UNAVAILABLE", message: "busy" });
      const { embedder, calls } = scripted((_, call) => call <= 2 ? error : undefined);
      const resilient = new ResilientEmbedder(embedder, {
        retry: { initialDelay: 100, random: () => 1 },
      });
      const [result] = await time.until(resilient.embedEach(["x"]));
      assert.equal(result?.ok, true);
      const start = calls[0]!.at;
      assert.deepEqual(calls.map((c) => c.at - start), [0, 100, 300], "100 then 200 ms");
    });
  }
  for (const status of [400, 401, 403, 404]) {
    await t.step(`does not retry ${status}`, async () => {
      const error = new GeminiApiError({ status, code: "NOPE", message: "no" });
      const { embedder, calls } = scripted(() => error);
      const [result] = await new ResilientEmbedder(embedder).embedEach(["x"]);
      assert.equal(calls.length, 1);
      assert.equal(result?.ok, false);
      assert.deepEqual(
        {
          code: result?.error?.code,
          status: result?.error?.status,
          attempts: result?.error?.attempts,
        },
        { code: "NOPE", status, attempts: 1 },
      );
    });
  }
  await t.step("gives up after maxAttempts", async () => {
    const { embedder, calls } = scripted(() => new TypeError("connection reset"));
    const [result] = await time.until(
      new ResilientEmbedder(embedder, {
        retry: { maxAttempts: 3, initialDelay: 10 },
        circuitBreaker: false,
      })
        .embedEach(["x"]),
    );
    assert.equal(calls.length, 3);
    assert.equal(result?.error?.code, "NETWORK_ERROR");
    assert.equal(result?.error?.attempts, 3);
  });
  await t.step("gives up when the next retry would pass maxRetryTime", async () => {
    const { embedder, calls } = scripted(() => quota("20s"));
    const [result] = await time.until(
      new ResilientEmbedder(embedder, { retry: { maxRetryTime: "50s" } }).embedEach(["x"]),
      100,
    );
    assert.equal(calls.length, 3, "at 0, 20 s, 40 s; a retry at 60 s would pass 50 s");
    assert.equal(result?.error?.code, "RESOURCE_EXHAUSTED");
  });
});

Deno.test("ResilientEmbedder times out a hung call and retries it", async () => {
  using time = new FakeTime();
  // The first call never settles and ignores its signal.
  const { embedder, calls } = scripted((_, call) => call === 1 ? new Promise(() => {}) : undefined);
  const records: CallRecord[] = [];
  const [result] = await time.until(
    new ResilientEmbedder(embedder, {
      callTimeout: "2s",
      retry: { initialDelay: 0 },
      onCall: (r) => void records.push(r),
    }).embedEach(["x"]),
  );
  assert.equal(result?.ok, true);
  assert.deepEqual(calls.map((c) => c.at), [0, 2000]);
  assert.deepEqual(records[0]?.failures, ["TIMEOUT"]);
});

Deno.test("ResilientEmbedder bisects a 400 to fail exactly the bad inputs", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = seededRandom(seed);
    const texts = Array.from({ length: 1 + Math.floor(random() * 100) }, (_, i) => `t${i}`);
    const bad = new Set(texts.filter(() => random() < 0.08));
    const { embedder } = scripted((batch) =>
      batch.some((t) => bad.has(t)) ? badRequest() : undefined
    );
    const results = await new ResilientEmbedder(embedder).embedEach(texts);
    texts.forEach((text, i) => {
      const result = results[i]!;
      if (bad.has(text)) {
        assert.equal(result.ok, false, text);
        assert.equal(result.error?.code, "INVALID_ARGUMENT");
      } else {
        assert.deepEqual(result.embedding, vector(text), text);
      }
    });
  }
});

Deno.test("ResilientEmbedder isolates the input a 400 names, without bisecting", async () => {
  const { embedder, calls } = scripted((batch) => {
    const i = batch.indexOf("bad");
    return i < 0
      ? undefined
      : badRequest(`* BatchEmbedContentsRequest.requests[${i}].content: too long`);
  });
  const texts = Array.from({ length: 10 }, (_, i) => i === 6 ? "bad" : `ok${i}`);
  const results = await new ResilientEmbedder(embedder).embedEach(texts);
  assert.equal(calls.length, 2);
  assert.equal(results[6]?.error?.code, "INVALID_ARGUMENT");
  assert.equal(results.filter((r) => r.ok).length, 9);
});

Deno.test("ResilientEmbedder does not bisect an invalid API key", async () => {
  const { embedder, calls } = scripted(() =>
    badRequest("API key not valid. Please pass a valid API key.")
  );
  const results = await new ResilientEmbedder(embedder).embedEach(["a", "b", "c", "d"]);
  assert.equal(calls.length, 1);
  assert.ok(results.every((r) => r.error?.code === "INVALID_ARGUMENT"));
});

Deno.test("ResilientEmbedder retries a wrong vector count, then fails the inputs, never misaligning", async () => {
  using time = new FakeTime();
  const short: Embedder = { embed: (texts) => Promise.resolve(texts.slice(1).map(vector)) };
  const results = await time.until(
    new ResilientEmbedder(short, { retry: { maxAttempts: 3, initialDelay: 10 } })
      .embedEach(["a", "b"]),
  );
  for (const result of results) {
    assert.equal(result.ok, false);
    assert.equal(result.error?.code, "EMBEDDING_COUNT");
    assert.equal(result.error?.attempts, 3);
  }
  const { embedder } = scripted((texts, call) =>
    call === 1 ? Promise.resolve(texts.slice(1).map(vector)) : undefined
  );
  const second = await time.until(
    new ResilientEmbedder(embedder, { retry: { initialDelay: 10 } }).embedEach(["a", "b"]),
  );
  assert.deepEqual(second.map((r) => r.embedding), [vector("a"), vector("b")]);
});

Deno.test("ResilientEmbedder enforces the per-call and per-text limits before sending", async () => {
  using time = new FakeTime();
  const { embedder, calls } = scripted();
  const texts = Array.from({ length: 250 }, (_, i) => `text ${i}`);
  texts[3] = "long ".repeat(3000);
  texts[4] = "";
  const strict = await new ResilientEmbedder(embedder).embedEach(texts);
  assert.deepEqual(calls.map((c) => c.texts.length), [100, 100, 48]);
  assert.equal(strict[3]?.error?.code, "TOKEN_LIMIT");
  assert.equal(strict[3]?.error?.attempts, 0);
  assert.equal(strict[4]?.error?.code, "EMPTY_TEXT");
  assert.deepEqual(strict[5]?.embedding, vector("text 5"));

  calls.length = 0;
  const lenient = await new ResilientEmbedder(embedder, { truncate: true, maxInputTokens: 100 })
    .embedEach(["word ".repeat(500), "short"]);
  assert.equal(lenient[0]?.ok, true);
  assert.equal(lenient[0]?.truncated, true);
  assert.equal(lenient[1]?.truncated, false);
  assert.ok(
    calls[0]!.texts[0]!.length < 500 && "word ".repeat(500).startsWith(calls[0]!.texts[0]!),
  );

  calls.length = 0;
  await time.until(
    new ResilientEmbedder(embedder, { tpm: 1000 }).embedEach(
      Array.from({ length: 10 }, () => "x".repeat(1200)), // 400 tokens each
    ),
    500,
  );
  assert.deepEqual(calls.map((c) => c.texts.length), [2, 2, 2, 2, 2], "no call over tpm");
  assert.deepEqual(calls.map((c) => c.at), [0, 60_500, 121_000, 181_500, 242_000]);
});

Deno.test("ResilientEmbedder keeps at most `concurrency` calls in flight", async () => {
  using time = new FakeTime();
  let inFlight = 0;
  let peak = 0;
  const slow: Embedder = {
    async embed(texts) {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 100));
      inFlight--;
      return texts.map(vector);
    },
  };
  const run = new ResilientEmbedder(slow, { concurrency: 3, maxTextsPerCall: 1 })
    .embedEach(Array.from({ length: 10 }, (_, i) => `t${i}`));
  assert.equal((await time.until(run)).length, 10);
  assert.equal(Date.now(), 400, "four waves of 100 ms: 3 + 3 + 3 + 1");
  assert.equal(peak, 3);
});

Deno.test("ResilientEmbedder aborts everything on the signal and leaves no timer", async () => {
  using time = new FakeTime();
  const { embedder } = scripted(() =>
    new GeminiApiError({ status: 503, code: "UNAVAILABLE", message: "x" })
  );
  const controller = new AbortController();
  const run = new ResilientEmbedder(embedder, { rpm: 1 }).embedEach(
    Array.from({ length: 300 }, (_, i) => `t${i}`),
    { signal: controller.signal },
  );
  await time.tick(100);
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(run, (e) => e === reason);
});

Deno.test("ResilientEmbedder rejects bad options", () => {
  const { embedder } = scripted();
  assert.throws(
    () => new ResilientEmbedder(embedder, { concurrency: 0 }),
    /concurrency must be a positive integer, received 0/,
  );
  assert.throws(() => new ResilientEmbedder(embedder, { callTimeout: "soon" }), RangeError);
  assert.throws(() => new ResilientEmbedder(embedder, { rpm: -1 }), RangeError);
});

/** A content-aware embedder: adds a 10-token prefix, groups by title, records each call. */
function contentAware(maxInputTokens?: number) {
  const calls: EmbedInput[][] = [];
  const embedder: Embedder = {
    ...(maxInputTokens !== undefined && { maxInputTokens }),
    embed: (texts) => Promise.resolve(texts.map(vector)),
    embedContents(inputs) {
      calls.push([...inputs]);
      return Promise.resolve(inputs.map((input) => vector(inputText(input) || "media")));
    },
    inputTokens: (input) => 10 + estimateTokens(inputText(input)),
    callGroup: (input) => typeof input === "string" ? "" : input.title ?? "",
  };
  return { embedder, calls };
}

Deno.test("ResilientEmbedder counts what the embedder adds against the token limit, and cuts only the text", async () => {
  const { embedder, calls } = contentAware(100);
  const resilient = new ResilientEmbedder(embedder, { truncate: true });
  const fits = "word ".repeat(30); // 30 tokens + 10
  const long = "word ".repeat(200);
  const results = await resilient.embedEach([fits, long]);
  assert.equal(results[0]?.truncated, false);
  assert.equal(results[1]?.truncated, true);
  const sent = calls.flat().map(inputText);
  assert.equal(sent[0], fits);
  assert.ok(long.startsWith(sent[1]!));
  assert.ok(10 + estimateTokens(sent[1]!) <= 100, "within the limit with the prefix");
  assert.ok(estimateTokens(sent[1]!) > 80, "cut by what was over, not more");

  const strict = new ResilientEmbedder(contentAware(100).embedder);
  const [refused] = await strict.embedEach(["abc ".repeat(95)]); // 95 + 10 > 100
  assert.equal(refused?.error?.code, "TOKEN_LIMIT");
  assert.match(refused!.error!.message, /estimated at 105 tokens, over the limit of 100/);
});

Deno.test("ResilientEmbedder takes the embedder's model limit unless maxInputTokens is given", async () => {
  const text = "abc ".repeat(3000); // 3,000 tokens: over 2,048, within 8,192
  const [v2] = await new ResilientEmbedder(contentAware(8192).embedder).embedEach([text]);
  assert.equal(v2?.ok, true);
  const [v1] = await new ResilientEmbedder(contentAware(2048).embedder).embedEach([text]);
  assert.equal(v1?.error?.code, "TOKEN_LIMIT");
  const [capped] = await new ResilientEmbedder(contentAware(8192).embedder, { maxInputTokens: 50 })
    .embedEach([text]);
  assert.equal(capped?.error?.code, "TOKEN_LIMIT");
});

Deno.test("ResilientEmbedder sends inputs of different call groups in different calls, results in order", async () => {
  const { embedder, calls } = contentAware();
  const inputs: EmbedInput[] = [
    { text: "a", title: "A" },
    "b",
    { text: "c", title: "A" },
    { text: "d", title: "D" },
  ];
  const results = await new ResilientEmbedder(embedder).embedEach(inputs);
  assert.deepEqual(results.map((r) => r.embedding), ["a", "b", "c", "d"].map(vector));
  assert.deepEqual(calls.map((c) => c.map(inputText)), [["a", "c"], ["b"], ["d"]]);
});

Deno.test("ResilientEmbedder bounds calls by estimated request bytes; one input always goes", async () => {
  const { embedder, calls } = contentAware();
  const media = (size: number) => ({
    name: "x.png",
    mimeType: "image/png",
    size,
    tokens: 258,
    read: () => Promise.resolve(new Uint8Array(0)),
  });
  const inputs: EmbedInput[] = [
    { media: [media(600_000)] },
    { media: [media(600_000)] },
    { media: [media(3_000_000)] },
    "small",
  ];
  await new ResilientEmbedder(embedder, { maxRequestBytes: 2_000_000 }).embedEach(inputs);
  // base64 makes 600 kB about 800 kB: two fit in 2 MB; the 4 MB one goes alone.
  assert.deepEqual(calls.map((c) => c.length), [2, 1, 1]);
});

Deno.test("ResilientEmbedder refuses contents for an embedder that takes plain texts only", async () => {
  const { embedder, calls } = scripted();
  const results = await new ResilientEmbedder(embedder).embedEach(["fine", {
    text: "titled",
    title: "T",
  }]);
  assert.equal(results[0]?.ok, true);
  assert.equal(results[1]?.error?.code, "UNSUPPORTED_INPUT");
  assert.deepEqual(calls.map((c) => c.texts), [["fine"]]);
});

Deno.test("ResilientEmbedder gives an input the embedder cannot measure its own INVALID_INPUT result", async () => {
  const { embedder, calls } = contentAware();
  const picky: Embedder = {
    ...embedder,
    inputTokens(input) {
      if (typeof input !== "string" && input.media !== undefined) {
        throw new TypeError("Cannot embed a.png: this model does not take image/png");
      }
      return embedder.inputTokens!(input);
    },
  };
  const image = {
    name: "a.png",
    mimeType: "image/png",
    size: 1,
    tokens: 1,
    read: () => Promise.resolve(new Uint8Array(1)),
  };
  const results = await new ResilientEmbedder(picky).embedEach(["fine", { media: [image] }]);
  assert.equal(results[0]?.ok, true);
  assert.equal(results[1]?.error?.code, "INVALID_INPUT");
  assert.match(results[1]!.error!.message, /does not take image\/png/);
  assert.equal(calls.flat().length, 1);
});

Deno.test("ResilientEmbedder counts retries and 429s in its metrics as they happen, not at the call's end", async () => {
  using time = new FakeTime();
  const { embedder } = scripted((_, call) => call === 1 ? quota("60s") : undefined);
  const resilient = new ResilientEmbedder(embedder);
  const done = resilient.embedEach(["a"]);
  await time.tick(30_000); // half-way through the server's 60 s delay
  const during = resilient.metrics.summary();
  assert.equal(during.rateLimited, 1, "the 429 shows while the call waits");
  assert.equal(during.retries, 1, "so does the retry it waits for");
  await time.tick(30_000);
  await done;
  const after = resilient.metrics.summary();
  assert.deepEqual([after.rateLimited, after.retries, after.calls], [1, 1, 2], "counted once");
});
