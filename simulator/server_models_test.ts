import assert from "node:assert/strict";
import { GoogleGenAI } from "@google/genai";
import {
  createSimulatorHandler,
  type SimulatedBatch,
  simulatedContentEmbedding,
  simulatedEmbedding,
  startSimulator,
} from "./server.ts";

const V2 = "gemini-embedding-2";
const V1 = "gemini-embedding-001";

function post(model: string, requests: Record<string, unknown>[]) {
  const handler = createSimulatorHandler();
  return handler(
    new Request(`http://simulator/v1beta/models/${model}:batchEmbedContents`, {
      method: "POST",
      headers: { "x-goog-api-key": "k" },
      body: JSON.stringify({
        requests: requests.map((r) => ({ model: `models/${model}`, ...r })),
      }),
    }),
  );
}

const text = (t: string) => ({ parts: [{ text: t }] });

Deno.test("Simulator allows 8,192 tokens for gemini-embedding-2 models and 2,048 for 001", async () => {
  const long = "abcd".repeat(5000); // 5,000 tokens by countTokens
  for (const model of [V2, "gemini-embedding-2-preview"]) {
    const response = await post(model, [{ content: text(long) }]);
    assert.equal(response.status, 200, model);
    await response.body?.cancel();
  }
  const refused = await post(V1, [{ content: text(long) }]);
  assert.equal(refused.status, 400);
  assert.match(
    (await refused.json()).error.message,
    /requests\[0\]\.content: The input token count \(5000\) exceeds the maximum number of tokens allowed \(2048\)/,
  );
  const over = await post(V2, [{ content: text("abcd".repeat(8193)) }]);
  assert.equal(over.status, 400);
  assert.match((await over.json()).error.message, /allowed \(8192\)/);
});

Deno.test("Simulator accepts taskType and title for gemini-embedding-2 and ignores them", async () => {
  const plain = await post(V2, [{ content: text("x"), outputDimensionality: 8 }]);
  const fields = await post(V2, [{
    content: text("x"),
    outputDimensionality: 8,
    taskType: "RETRIEVAL_DOCUMENT",
    title: "T",
  }]);
  assert.equal(fields.status, 200);
  assert.deepEqual((await fields.json()).embeddings, (await plain.json()).embeddings);
});

Deno.test("Simulator normalises reduced sizes for gemini-embedding-2 but not for 001", async () => {
  for (const dimensions of [128, 768, 1536]) {
    const v2 = simulatedEmbedding("x", dimensions, V2);
    const v1 = simulatedEmbedding("x", dimensions, V1);
    assert.ok(Math.abs(Math.hypot(...v2) - 1) < 1e-6, `v2 ${dimensions}`);
    const n1 = Math.hypot(...v1);
    assert.ok(n1 < 0.95 && n1 > 0.1, `001 ${dimensions}: norm ${n1}`);
  }
  assert.ok(
    Math.abs(Math.hypot(...simulatedEmbedding("x", 3072, V1)) - 1) < 1e-6,
    "001 full size",
  );
  const response = await post(V1, [{ content: text("x"), outputDimensionality: 768 }]);
  assert.deepEqual((await response.json()).embeddings[0].values, simulatedEmbedding("x", 768, V1));
});

Deno.test("Simulator embeds media parts for gemini-embedding-2: one vector per content from the parts' bytes", async () => {
  const png = new Uint8Array([137, 80, 78, 71, 1]);
  const other = new Uint8Array([137, 80, 78, 71, 2]);
  const inline = (mimeType: string, bytes: Uint8Array) => ({
    inlineData: { mimeType, data: bytes.toBase64() },
  });
  const response = await post(V2, [
    { content: { parts: [{ text: "cat" }, inline("image/png", png)] }, outputDimensionality: 4 },
    { content: { parts: [{ text: "cat" }, inline("image/png", other)] }, outputDimensionality: 4 },
    {
      content: { parts: [{ inline_data: { mime_type: "application/pdf", data: png.toBase64() } }] },
    },
  ]);
  assert.equal(response.status, 200);
  const [a, b, c] = (await response.json()).embeddings.map((e: { values: number[] }) => e.values);
  assert.deepEqual(
    a,
    simulatedContentEmbedding(
      { text: "cat", media: [{ mimeType: "image/png", data: png }] },
      4,
      V2,
    ),
  );
  assert.notDeepEqual(a, b, "other bytes, other vector");
  assert.notDeepEqual(a, simulatedEmbedding("cat", 4, V2));
  assert.equal(c.length, 3072);
});

Deno.test("Simulator refuses media for gemini-embedding-001 and more than 6 images in one content", async () => {
  const image = { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } };
  const v1 = await post(V1, [{ content: { parts: [{ text: "a" }, image] } }]);
  assert.equal(v1.status, 400);
  assert.match((await v1.json()).error.message, /gemini-embedding-001 supports text input only/);
  const seven = await post(V2, [{ content: { parts: Array(7).fill(image) } }]);
  assert.equal(seven.status, 400);
  assert.match((await seven.json()).error.message, /at most 6 image parts/);
  const gif = await post(V2, [{
    content: { parts: [{ inlineData: { mimeType: "image/gif", data: "R0lG" } }] },
  }]);
  assert.equal(gif.status, 400);
  assert.match((await gif.json()).error.message, /Unsupported MIME type: image\/gif/);
});

Deno.test("Through the real SDK, gemini-embedding-2 gets N vectors for N contents and 1 for a bare string array", async () => {
  const batches: SimulatedBatch[] = [];
  await using simulator = startSimulator({ onBatch: (b) => void batches.push(b) });
  const ai = new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: simulator.url } });
  const texts = ["a", "b", "c", "d"];
  const separate = await ai.models.embedContent({
    model: V2,
    contents: texts.map((t) => ({ role: "user", parts: [{ text: t }] })),
  });
  assert.equal(separate.embeddings?.length, texts.length);
  const merged = await ai.models.embedContent({ model: V2, contents: [...texts] });
  assert.equal(merged.embeddings?.length, 1, "the SDK folds a string array into one content");
  assert.deepEqual(batches.map((b) => b.requests.length), [4, 1]);
});

Deno.test("Simulator answers a fileData part naming no uploaded file with Gemini's 403", async () => {
  const response = await post(V2, [{
    content: {
      parts: [{ fileData: { mimeType: "image/png", fileUri: "https://x/v1beta/files/nope" } }],
    },
  }]);
  assert.equal(response.status, 403);
  assert.match((await response.json()).error.message, /File nope or it may not exist/);
});
