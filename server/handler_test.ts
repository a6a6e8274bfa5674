import assert from "node:assert/strict";
import { createEmbeddingHandler, type EmbeddingHandlerOptions } from "./handler.ts";
import type { EmbedGroup } from "./upstream.ts";
import { GeminiApiError } from "../errors.ts";
import { FakeTime } from "../internal/fake_time.ts";

const MODEL = "gemini-embedding-001";

/** An upstream that records calls and answers [text length, dimensions]. */
function recording(fail?: (texts: readonly string[], call: number) => Error | undefined) {
  const calls: { group: EmbedGroup; texts: string[] }[] = [];
  const upstream: EmbeddingHandlerOptions["upstream"] = (group) => ({
    embed(texts, { signal } = {}) {
      calls.push({ group, texts: [...texts] });
      const error = fail?.(texts, calls.length);
      if (error === undefined) {
        return Promise.resolve(texts.map((t) => [t.length, group.dimensions ?? 0]));
      }
      if (error.message === "hang") {
        return new Promise((_, reject) =>
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
        );
      }
      return Promise.reject(error);
    },
  });
  return { calls, upstream };
}

function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) {
  return new Request(`http://embatch${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers,
    ...(signal && { signal }),
  });
}

const gemini = (text: string, extra: Record<string, unknown> = {}) => ({
  model: `models/${MODEL}`,
  content: { parts: [{ text }] },
  ...extra,
});
const BATCH = `/v1beta/models/${MODEL}:batchEmbedContents`;
const EMBED = `/v1/models/${MODEL}:embedContent`;

Deno.test("handler answers each Gemini and OpenAI request with its own vectors, in order", async () => {
  const { calls, upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, batchSize: 5, timeout: "1h" });
  const responses = await Promise.all([
    handler(post(BATCH, { requests: [gemini("a"), gemini("bbb", { outputDimensionality: 0 })] })),
    handler(post(EMBED, { content: { parts: [{ text: "cc" }] } })),
    handler(post("/v1/embeddings", { model: MODEL, input: ["dddd", "a"] })),
    handler(post("/v1/embeddings", { model: MODEL, input: "eeeee", encoding_format: "base64" })),
  ]);
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200]);
  const [batch, one, list, packed] = await Promise.all(responses.map((r) => r.json()));
  assert.deepEqual(batch, { embeddings: [{ values: [1, 0] }, { values: [3, 0] }] });
  assert.deepEqual(one, { embedding: { values: [2, 0] } });
  assert.deepEqual(list.data, [
    { object: "embedding", index: 0, embedding: [4, 0] },
    { object: "embedding", index: 1, embedding: [1, 0] },
  ]);
  assert.equal(list.object, "list");
  assert.equal(list.model, MODEL);
  assert.deepEqual(list.usage, { prompt_tokens: 3, total_tokens: 3 });
  const bytes = Uint8Array.from(atob(packed.data[0].embedding), (c) => c.charCodeAt(0));
  assert.deepEqual([...new Float32Array(bytes.buffer)], [5, 0]);
  assert.deepEqual(
    calls.map((c) => c.texts),
    [["a", "bbb", "cc", "dddd", "eeeee"]],
    '"a" sent once',
  );
  await handler.close();
});

Deno.test("handler: 100 single-text requests cost the same calls as one request of 100", async () => {
  const { calls, upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, batchSize: 100, timeout: "1h" });
  const texts = Array.from({ length: 100 }, (_, i) => `text ${i}`);
  const singles = await Promise.all(
    texts.map((t) => handler(post("/v1/embeddings", { model: MODEL, input: t }))),
  );
  for (const [i, response] of singles.entries()) {
    assert.deepEqual((await response.json()).data[0].embedding, [texts[i]!.length, 0]);
  }
  const whole = await handler(post(BATCH, { requests: texts.map((t) => gemini(`${t}!`)) }));
  assert.equal((await whole.json()).embeddings.length, 100);
  assert.deepEqual(calls.map((c) => c.texts.length), [100, 100]);
  await handler.close();
});

Deno.test("handler keeps groups apart: model, dimensions, task type and title", async () => {
  const { calls, upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, batchSize: 100, timeout: "1ms" });
  using time = new FakeTime();
  const requests = [
    handler(post(BATCH, { requests: [gemini("a"), gemini("b", { outputDimensionality: 8 })] })),
    handler(post(BATCH, { requests: [gemini("c", { taskType: "RETRIEVAL_QUERY" })] })),
    handler(post(BATCH, {
      requests: [gemini("d", { taskType: "RETRIEVAL_DOCUMENT", title: "T" })],
    })),
    handler(post("/v1/embeddings", { model: MODEL, input: "e", dimensions: 8 })),
  ];
  const responses = await time.until(Promise.all(requests));
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200]);
  const byGroup = calls.map((c) => [c.group, c.texts]);
  assert.deepEqual(byGroup, [
    [{ model: MODEL }, ["a"]],
    [{ model: MODEL, dimensions: 8 }, ["b", "e"]],
    [{ model: MODEL, taskType: "RETRIEVAL_QUERY" }, ["c"]],
    [{ model: MODEL, taskType: "RETRIEVAL_DOCUMENT", title: "T" }, ["d"]],
  ]);
  await time.until(handler.close());
});

Deno.test("handler answers bad requests in the protocol's error shape", async (t) => {
  const { calls, upstream } = recording();
  const handler = createEmbeddingHandler({
    upstream,
    models: [MODEL],
    maxBodyBytes: 20_000,
    timeout: "1h",
  });
  const cases: [string, Request, number, "gemini" | "openai", RegExp][] = [
    ["unknown route", post("/v2/anything", {}), 404, "gemini", /embatch serves/],
    ["wrong method", new Request(`http://embatch${BATCH}`), 404, "gemini", /use POST/],
    ["unknown model, Gemini", post("/v1/models/other:embedContent", {}), 404, "gemini", /other/],
    [
      "unknown model, OpenAI",
      post("/v1/embeddings", { model: "x", input: "a" }),
      404,
      "openai",
      /x/,
    ],
    [
      "101 texts, Gemini",
      post(BATCH, { requests: Array(101).fill(gemini("a")) }),
      400,
      "gemini",
      /at most 100/,
    ],
    [
      "101 texts, OpenAI",
      post("/v1/embeddings", { model: MODEL, input: Array(101).fill("a") }),
      400,
      "openai",
      /at most 100/,
    ],
    [
      "body too large",
      post("/v1/embeddings", { model: MODEL, input: "x".repeat(30_000) }),
      413,
      "openai",
      /limit is 20000 bytes/,
    ],
    ["not JSON", post(EMBED, "{"), 400, "gemini", /Invalid JSON/],
    [
      "too many tokens",
      post(EMBED, { content: { parts: [{ text: "9".repeat(2100) }] } }),
      400,
      "gemini",
      /too long/,
    ],
  ];
  for (const [name, request, status, protocol, message] of cases) {
    await t.step(name, async () => {
      const response = await handler(request);
      assert.equal(response.status, status);
      const { error } = await response.json();
      if (protocol === "gemini") {
        assert.deepEqual(Object.keys(error), ["code", "message", "status"]);
        assert.equal(error.code, status);
      } else {
        assert.deepEqual(Object.keys(error), ["message", "type", "param", "code"]);
      }
      assert.match(error.message, message);
    });
  }
  assert.deepEqual(calls, [], "nothing was sent upstream");
  assert.match(handler.metricsText(), /embatch_rejected_total\{reason="body_too_large"\} 1/);
  await handler.close();
});

Deno.test("handler: a missing or wrong token gets 401 in the protocol's shape, never echoed", async () => {
  const { upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, tokens: ["tok-A", "tok-B"], timeout: "1ms" });
  const wrong = await handler(post(EMBED, { content: { parts: [{ text: "x" }] } }, {
    "x-goog-api-key": "guess-123",
  }));
  assert.equal(wrong.status, 401);
  const wrongText = await wrong.text();
  assert.deepEqual(JSON.parse(wrongText).error.status, "UNAUTHENTICATED");
  assert.doesNotMatch(wrongText, /guess-123/);
  const missing = await handler(post("/v1/embeddings", { model: MODEL, input: "x" }));
  assert.equal(missing.status, 401);
  assert.equal((await missing.json()).error.code, "invalid_api_key");
  using time = new FakeTime();
  const viaQuery = handler(post(`${EMBED}?key=tok-B`, { content: { parts: [{ text: "x" }] } }));
  const viaBearer = handler(post("/v1/embeddings", { model: MODEL, input: "x" }, {
    authorization: "Bearer tok-A",
  }));
  const [q, b] = await time.until(Promise.all([viaQuery, viaBearer]));
  assert.deepEqual([q.status, b.status], [200, 200]);
  assert.match(handler.metricsText(), /embatch_rejected_total\{reason="auth"\} 2/);
  await time.until(handler.close());
});

Deno.test("handler: one client's concurrency limit answers 429 without blocking others", async () => {
  const { upstream } = recording();
  const handler = createEmbeddingHandler({
    upstream,
    tokens: ["busy", "calm"],
    clientConcurrency: 2,
    timeout: "1h",
    batchSize: 3,
  });
  const as = (token: string, text: string) =>
    handler(
      post("/v1/embeddings", { model: MODEL, input: text }, { authorization: `Bearer ${token}` }),
    );
  const first = [as("busy", "1"), as("busy", "2")];
  const refused = await as("busy", "3");
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal((await refused.json()).error.code, "rate_limit_exceeded");
  const calm = await as("calm", "4"); // third text: the batch leaves
  assert.equal(calm.status, 200);
  assert.deepEqual((await Promise.all(first)).map((r) => r.status), [200, 200]);
  await handler.close();
});

Deno.test("handler: a full queue answers 503 with Retry-After", async () => {
  const { upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, maxQueue: 2, timeout: "1h", batchSize: 100 });
  const waiting = handler(post("/v1/embeddings", { model: MODEL, input: ["a", "b"] }));
  const refused = await handler(post(BATCH, { requests: [gemini("c")] }));
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal((await refused.json()).error.status, "UNAVAILABLE");
  await handler.close();
  assert.equal((await waiting).status, 200, "close sent the queued texts");
});

Deno.test("handler absorbs upstream 429s: callers wait and get their vectors", async () => {
  using time = new FakeTime();
  const quota = new GeminiApiError({ status: 429, code: "RESOURCE_EXHAUSTED", message: "quota" });
  const { calls, upstream } = recording((_, call) => (call <= 2 ? quota : undefined));
  const handler = createEmbeddingHandler({
    upstream,
    timeout: "1ms",
    retry: { initialDelay: 100, random: () => 0.5 },
  });
  const response = await time.until(handler(post(EMBED, { content: { parts: [{ text: "q" }] } })));
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { embedding: { values: [1, 0] } });
  assert.equal(calls.length, 3);
  const metrics = handler.metricsText();
  assert.match(metrics, /^embatch_upstream_rate_limited_total 2$/m);
  assert.match(metrics, /^embatch_upstream_retries_total 2$/m);
  assert.match(metrics, /^embatch_upstream_calls_total 3$/m);
  await time.until(handler.close());
});

Deno.test("handler: upstream 429s that outlast the retries answer 503 with Retry-After, not 429", async () => {
  using time = new FakeTime();
  const quota = new GeminiApiError({ status: 429, code: "RESOURCE_EXHAUSTED", message: "quota" });
  const { calls, upstream } = recording(() => quota);
  const handler = createEmbeddingHandler({
    upstream,
    timeout: "1ms",
    requestTimeout: "2s",
    retry: { initialDelay: 100, random: () => 0.5 },
  });
  const response = await time.until(
    handler(post("/v1/embeddings", { model: MODEL, input: "q" })),
    10,
  );
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "5");
  assert.match((await response.json()).error.message, /Upstream quota exhausted/);
  assert.ok(calls.length > 2, `retried: ${calls.length} calls`);
  await time.until(handler.close(), 10);
});

Deno.test("handler: a request still waiting at its deadline answers 504 in its protocol's shape", async () => {
  using time = new FakeTime();
  const { upstream } = recording(() => new Error("hang"));
  const handler = createEmbeddingHandler({ upstream, timeout: "1ms", requestTimeout: "2s" });
  const openai = handler(post("/v1/embeddings", { model: MODEL, input: "q" }));
  const gemini = handler(post(EMBED, { content: { parts: [{ text: "q" }] } }));
  await time.tick(1999);
  assert.equal(handler.inFlight, 2);
  const [o, g] = await time.until(Promise.all([openai, gemini]));
  assert.equal(o.status, 504);
  assert.equal((await o.json()).error.code, "timeout");
  assert.equal((await g.json()).error.status, "DEADLINE_EXCEEDED");
  await time.until(handler.close());
});

Deno.test("handler maps upstream errors without leaking what the server holds", async () => {
  using time = new FakeTime();
  const keyError = new GeminiApiError({
    status: 400,
    code: "INVALID_ARGUMENT",
    message: "API key not valid. Please pass a valid API key.",
  });
  const badDims = new GeminiApiError({
    status: 400,
    code: "INVALID_ARGUMENT",
    message: "output_dimensionality too large",
  });
  const { upstream } = recording((texts) => (texts[0] === "k" ? keyError : badDims));
  const lines: string[] = [];
  const handler = createEmbeddingHandler({
    upstream,
    timeout: "1ms",
    onLog: (line) => lines.push(line),
  });
  const [key, dims] = await time.until(Promise.all([
    handler(post(EMBED, { content: { parts: [{ text: "k" }] } })),
    handler(post("/v1/embeddings", { model: "gemini-embedding-002", input: "d" })),
  ]));
  assert.equal(key.status, 502);
  assert.equal((await key.json()).error.message, "Upstream refused the server's credentials");
  assert.equal(dims.status, 400);
  assert.match((await dims.json()).error.message, /output_dimensionality too large/);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /502/);
  await time.until(handler.close());
});

Deno.test("handler drops a disconnected client's texts before they are sent", async () => {
  using time = new FakeTime();
  const { calls, upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, timeout: "50ms" });
  const client = new AbortController();
  const gone = handler(post("/v1/embeddings", { model: MODEL, input: "gone" }, {}, client.signal));
  const stays = handler(post("/v1/embeddings", { model: MODEL, input: "stays" }));
  await time.tick(10);
  client.abort();
  assert.equal((await time.until(gone)).status, 499);
  assert.equal((await time.until(stays)).status, 200);
  assert.deepEqual(calls.map((c) => c.texts), [["stays"]]);
  await time.until(handler.close());
});

Deno.test("handler.close sends queued texts, refuses new requests, and health turns 503", async () => {
  const { calls, upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, timeout: "1h" });
  const queued = [
    handler(post("/v1/embeddings", { model: MODEL, input: "one" })),
    handler(post(EMBED, { content: { parts: [{ text: "two" }] } })),
  ];
  assert.equal((await handler(new Request("http://embatch/healthz"))).status, 200);
  const closed = handler.close(1000);
  const late = await handler(post("/v1/embeddings", { model: MODEL, input: "late" }));
  assert.equal(late.status, 503);
  assert.equal((await handler(new Request("http://embatch/healthz"))).status, 503);
  assert.deepEqual((await Promise.all(queued)).map((r) => r.status), [200, 200]);
  await closed;
  assert.deepEqual(calls.map((c) => c.texts), [["one", "two"]]);
});

Deno.test("handler.close answers 503 to requests still waiting when the grace period ends", async () => {
  using time = new FakeTime();
  const { upstream } = recording(() => new Error("hang"));
  const handler = createEmbeddingHandler({ upstream, timeout: "1ms" });
  const stuck = handler(post("/v1/embeddings", { model: MODEL, input: "stuck" }));
  await time.tick(5);
  const closed = handler.close(1000);
  await time.tick(999);
  assert.equal(handler.inFlight, 1);
  await time.tick(1);
  const response = await time.until(stuck);
  assert.equal(response.status, 503);
  assert.match((await response.json()).error.message, /shut down/);
  await time.until(closed);
});

Deno.test("handler serves Prometheus metrics: requests by route and code, texts, batches", async () => {
  const { upstream } = recording();
  const handler = createEmbeddingHandler({ upstream, batchSize: 3, timeout: "1h" });
  await Promise.all([
    handler(post("/v1/embeddings", { model: MODEL, input: ["a", "b"] })),
    handler(post(EMBED, { content: { parts: [{ text: "c" }] } })),
  ]);
  await handler(post("/v1/embeddings", {}));
  const response = await handler(new Request("http://embatch/metrics"));
  assert.match(response.headers.get("content-type")!, /^text\/plain; version=0.0.4/);
  const text = await response.text();
  assert.match(text, /^embatch_requests_total\{route="openai",code="200"\} 1$/m);
  assert.match(text, /^embatch_requests_total\{route="gemini_embed",code="200"\} 1$/m);
  assert.match(text, /^embatch_requests_total\{route="openai",code="400"\} 1$/m);
  assert.match(text, /^embatch_texts_total\{route="openai"\} 2$/m);
  assert.match(text, /^embatch_upstream_batch_texts_bucket\{le="2"\} 0$/m);
  assert.match(text, /^embatch_upstream_batch_texts_bucket\{le="5"\} 1$/m);
  assert.match(text, /^embatch_item_latency_seconds_count 3$/m);
  assert.match(text, /^embatch_queue_texts 0$/m);
  await handler.close();
});

Deno.test("handler answers 502 with Retry-After when upstream cannot be reached at all", async () => {
  using time = new FakeTime();
  const refused = () =>
    new TypeError("fetch failed", {
      cause: new Error("client error (Connect): tcp connect error: Connection refused"),
    });
  const { upstream } = recording(() => refused());
  const handler = createEmbeddingHandler({ upstream, timeout: "1ms" });
  const response = await time.until(handler(post(EMBED, gemini("x"))), 10);
  assert.equal(response.status, 502);
  assert.equal(response.headers.get("retry-after"), "30");
  assert.equal((await response.json()).error.message, "Upstream unreachable: connection refused");
  await time.until(handler.close(), 10);
});
