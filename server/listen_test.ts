import assert from "node:assert/strict";
import { normalize } from "../gemini/normalize.ts";
import { setImmediate } from "node:timers";
import { ApiError, GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { type ServerOptions, startServer } from "./listen.ts";
import { geminiUpstream } from "./upstream.ts";
import { simulatedEmbedding, startSimulator } from "../simulator/mod.ts";

/** What the server answers for `text`: the upstream's vector at unit length. */
function expected(text: string, dimensions: number): number[] {
  return normalize(simulatedEmbedding(text, dimensions, MODEL));
}

const SERVER_KEY = "sk-server-upstream-SECRET-7f3a";
const CLIENT_TOKEN = "client-token-1";
const MODEL = "gemini-embedding-001";

/** A server in front of a simulator that accepts only the server's key. */
function setup(options: Partial<ServerOptions> = {}) {
  const simulator = startSimulator({ apiKeys: [SERVER_KEY] });
  const logs: string[] = [];
  const server = startServer({
    upstream: geminiUpstream({ apiKey: SERVER_KEY, baseUrl: simulator.url }),
    tokens: [CLIENT_TOKEN],
    timeout: "5ms",
    onLog: (line) => logs.push(line),
    ...options,
  });
  return {
    simulator,
    server,
    logs,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await simulator.close();
    },
  };
}

/** Yields to the event loop until `condition` holds (bounded; no timed sleep). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !condition(); i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(condition(), "condition never held");
}

const fround = (vector: number[]) => vector.map(Math.fround);

Deno.test("the @google/genai SDK embeds through the server: every caller gets its own vector", async () => {
  await using s = setup({ timeout: "1h", batchSize: 24 });
  const ai = new GoogleGenAI({ apiKey: CLIENT_TOKEN, httpOptions: { baseUrl: s.server.url } });
  const beta = new GoogleGenAI({
    apiKey: CLIENT_TOKEN,
    apiVersion: "v1beta",
    httpOptions: { baseUrl: s.server.url },
  });
  const texts = Array.from({ length: 20 }, (_, i) => `caller ${i} asks about ${i * 7}`);
  const singles = texts.map((text, i) =>
    (i % 2 === 0 ? ai : beta).models.embedContent({
      model: MODEL,
      contents: [{ role: "user", parts: [{ text }] }],
      config: { outputDimensionality: 16 },
    })
  );
  const several = ai.models.embedContent({
    model: MODEL,
    contents: ["x", "y", "z", "w"].map((text) => ({ role: "user", parts: [{ text }] })),
    config: { outputDimensionality: 16 },
  });
  const answers = await Promise.all(singles);
  answers.forEach((answer, i) => {
    assert.equal(answer.embeddings?.length, 1);
    assert.deepEqual(answer.embeddings?.[0]?.values, expected(texts[i]!, 16));
  });
  assert.deepEqual(
    (await several).embeddings?.map((e) => e.values),
    ["x", "y", "z", "w"].map((t) => expected(t, 16)),
  );
  assert.equal(s.simulator.stats.requests, 1, "24 texts of 21 requests in one upstream call");
  assert.equal(s.simulator.keyStats(CLIENT_TOKEN), undefined, "the client token stays here");
  assert.equal(s.simulator.keyStats(SERVER_KEY)?.requests, 1);
});

Deno.test("the official openai package embeds through the server: every caller gets its own vector", async () => {
  await using s = setup({ timeout: "1h", batchSize: 22 });
  const client = new OpenAI({
    apiKey: CLIENT_TOKEN,
    baseURL: `${s.server.url}/v1`,
    maxRetries: 0,
  });
  const texts = Array.from({ length: 20 }, (_, i) => `question number ${i}`);
  const singles = texts.map((input) =>
    client.embeddings.create({ model: MODEL, input, dimensions: 8 })
  );
  const pair = client.embeddings.create({
    model: MODEL,
    input: ["left", "right"],
    dimensions: 8,
    encoding_format: "float",
  });
  const answers = await Promise.all(singles);
  answers.forEach((answer, i) => {
    assert.equal(answer.data.length, 1);
    // The SDK asks for base64 (float32) by default and decodes it.
    assert.deepEqual(answer.data[0]!.embedding, fround(expected(texts[i]!, 8)));
    assert.equal(answer.model, MODEL);
    assert.ok(answer.usage.prompt_tokens > 0);
  });
  const floats = await pair;
  assert.deepEqual(floats.data.map((d) => d.embedding), [
    expected("left", 8),
    expected("right", 8),
  ]);
  assert.deepEqual(floats.data.map((d) => d.index), [0, 1]);
  assert.equal(s.simulator.stats.requests, 1);
});

Deno.test("both SDKs see a missing or wrong token as 401, and the token is never echoed", async () => {
  await using s = setup();
  const ai = new GoogleGenAI({ apiKey: "wrong-token-xyz", httpOptions: { baseUrl: s.server.url } });
  const geminiError = await ai.models.embedContent({
    model: MODEL,
    contents: [{ role: "user", parts: [{ text: "x" }] }],
  }).then(() => undefined, (error) => error);
  assert.ok(geminiError instanceof ApiError);
  assert.equal(geminiError.status, 401);
  assert.match(geminiError.message, /UNAUTHENTICATED/);
  assert.doesNotMatch(geminiError.message, /wrong-token-xyz/);

  const openai = new OpenAI({
    apiKey: "wrong-token-xyz",
    baseURL: `${s.server.url}/v1`,
    maxRetries: 0,
  });
  const openaiError = await openai.embeddings.create({ model: MODEL, input: "x" })
    .then(() => undefined, (error) => error);
  assert.ok(openaiError instanceof OpenAI.AuthenticationError);
  assert.equal(openaiError.status, 401);
  assert.equal(openaiError.code, "invalid_api_key");
  assert.equal(s.simulator.stats.requests, 0);
});

Deno.test("500 concurrent single-text requests make at most 50 upstream calls", async () => {
  // Batches leave only when full (no timeout race), so the count is exact.
  await using s = setup({ timeout: "1h", batchSize: 100 });
  const texts = Array.from({ length: 500 }, (_, i) => `concurrent text ${i}`);
  const responses = await Promise.all(texts.map((input) =>
    fetch(`${s.server.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_TOKEN}` },
      body: JSON.stringify({ model: MODEL, input, dimensions: 4 }),
    }).then((r) => r.json())
  ));
  responses.forEach((body, i) => {
    assert.deepEqual(body.data[0].embedding, expected(texts[i]!, 4));
  });
  assert.ok(s.simulator.stats.requests <= 50);
  assert.equal(s.simulator.stats.requests, 5);
  assert.equal(s.simulator.stats.texts, 500);
  assert.match(s.server.metricsText(), /^embatch_upstream_batch_texts_count 5$/m);
});

Deno.test("shutdown stops accepting, sends what is queued, answers it, then closes", async () => {
  await using s = setup({ timeout: "1h", batchSize: 100 });
  const ask = (input: string) =>
    fetch(`${s.server.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_TOKEN}` },
      body: JSON.stringify({ model: MODEL, input, dimensions: 4 }),
    });
  const queued = ["one", "two", "three"].map(ask);
  await until(() => s.server.pending === 3);
  assert.equal(s.simulator.stats.requests, 0, "a partial batch is waiting");
  await s.server.shutdown(5000);
  const answers = await Promise.all(queued);
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200]);
  const bodies = await Promise.all(answers.map((r) => r.json()));
  assert.deepEqual(bodies[1].data[0].embedding, expected("two", 4));
  assert.equal(s.simulator.stats.requests, 1);
  await assert.rejects(ask("late"), TypeError, "the listener is closed");
});

Deno.test("the upstream key never appears in a response, a log line or the metrics", async () => {
  // The simulator does not know this key: upstream answers 400 API_KEY_INVALID.
  await using simulator = startSimulator({ apiKeys: ["some-other-key"] });
  const logs: string[] = [];
  await using server = startServer({
    upstream: geminiUpstream({ apiKey: SERVER_KEY, baseUrl: simulator.url }),
    timeout: "1ms",
    onLog: (line) => logs.push(line),
  });
  const texts: string[] = [];
  const gemini = await fetch(`${server.url}/v1beta/models/${MODEL}:embedContent`, {
    method: "POST",
    body: JSON.stringify({ content: { parts: [{ text: "x" }] } }),
  });
  texts.push(await gemini.text());
  const openai = await fetch(`${server.url}/v1/embeddings?key=${SERVER_KEY}`, {
    method: "POST",
    body: JSON.stringify({ model: MODEL, input: "y" }),
  });
  texts.push(await openai.text());
  texts.push(await (await fetch(`${server.url}/metrics`)).text());
  assert.equal(gemini.status, 502);
  assert.equal(openai.status, 502);
  assert.match(texts[0]!, /Upstream refused the server's credentials/);
  assert.ok(logs.length >= 2, "the failures were logged");
  for (const text of [...texts, ...logs]) {
    assert.ok(!text.includes(SERVER_KEY), `leaked in: ${text}`);
    assert.ok(!text.includes(SERVER_KEY.slice(0, 12)), `partly leaked in: ${text}`);
  }
});

Deno.test("a client that disconnects over HTTP is dropped from its batch before it is sent", async () => {
  await using s = setup({ timeout: "1h", batchSize: 2 });
  const ask = (input: string, signal?: AbortSignal) =>
    fetch(`${s.server.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_TOKEN}` },
      body: JSON.stringify({ model: MODEL, input, dimensions: 4 }),
      ...(signal && { signal }),
    });
  const client = new AbortController();
  const gone = ask("gone", client.signal).catch((error) => error);
  await until(() => s.server.pending === 1);
  client.abort();
  assert.equal((await gone).name, "AbortError");
  await until(() => s.server.pending === 0); // the server saw the disconnect
  // "gone" still holds its place in the forming batch, so one more text fills it.
  const first = await ask("first");
  assert.deepEqual((await first.json()).data[0].embedding, expected("first", 4));
  assert.equal(s.simulator.stats.requests, 1);
  assert.equal(s.simulator.stats.texts, 1, '"gone" was dropped before the batch was sent');
  assert.match(s.server.metricsText(), /^embatch_requests_total\{route="openai",code="499"\} 1$/m);
});
