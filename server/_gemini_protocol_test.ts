import assert from "node:assert/strict";
import {
  batchEmbedContentsResponse,
  embedContentResponse,
  parseBatchEmbedContents,
  parseEmbedContent,
} from "./_gemini_protocol.ts";
import { HttpError } from "./_http_error.ts";

const M = "gemini-embedding-001";
const isInvalid = (pattern: RegExp) => (e: unknown) =>
  e instanceof HttpError && e.status === 400 && pattern.test(e.message);

Deno.test("parseBatchEmbedContents reads each request's text and group, in either field case", () => {
  const items = parseBatchEmbedContents({
    requests: [
      {
        model: `models/${M}`,
        content: { role: "user", parts: [{ text: "a" }, { text: "b" }] },
        outputDimensionality: 8,
      },
      {
        model: `models/${M}`,
        content: { parts: [{ text: "c" }] },
        task_type: "RETRIEVAL_DOCUMENT",
        title: "T",
        output_dimensionality: 0,
      },
    ],
  }, M);
  assert.deepEqual(items, [
    { text: "ab", group: { model: M, dimensions: 8 } },
    { text: "c", group: { model: M, taskType: "RETRIEVAL_DOCUMENT", title: "T" } },
  ]);
});

Deno.test("parseBatchEmbedContents refuses what Gemini refuses", async (t) => {
  const one = (extra: Record<string, unknown>) => ({
    model: `models/${M}`,
    content: { parts: [{ text: "x" }] },
    ...extra,
  });
  const cases: [string, unknown, RegExp][] = [
    ["no requests", { requests: [] }, /at least one request/],
    ["101 requests", { requests: Array.from({ length: 101 }, () => one({})) }, /at most 100/],
    ["other model", { requests: [one({ model: "models/other" })] }, /must match the model/],
    ["no model", { requests: [{ content: { parts: [{ text: "x" }] } }] }, /must match/],
    ["bad dims", { requests: [one({ outputDimensionality: 4000 })] }, /between 1 and 3072/],
    ["bad task", { requests: [one({ taskType: "SEARCH" })] }, /task_type/],
    ["unknown field", { requests: [one({ temperature: 1 })] }, /Unknown name "temperature"/],
    ["image part", {
      requests: [one({ content: { parts: [{ inlineData: { data: "" } }] } })],
    }, /text parts only, received inlineData/],
    ["empty text", { requests: [one({ content: { parts: [{ text: "" }] } })] }, /empty/],
    ["not an object", [], /expected an object/],
  ];
  for (const [name, body, pattern] of cases) {
    await t.step(
      name,
      () => assert.throws(() => parseBatchEmbedContents(body, M), isInvalid(pattern)),
    );
  }
});

Deno.test("parseEmbedContent reads one content; its model is optional", () => {
  assert.deepEqual(parseEmbedContent({ content: { parts: [{ text: "q" }] } }, M), {
    text: "q",
    group: { model: M },
  });
  assert.throws(
    () => parseEmbedContent({ model: "models/x", content: { parts: [{ text: "q" }] } }, M),
    isInvalid(/must match/),
  );
});

Deno.test("Gemini answers carry the vectors in request order", () => {
  assert.deepEqual(embedContentResponse([1, 2]), { embedding: { values: [1, 2] } });
  assert.deepEqual(batchEmbedContentsResponse([[1], [2]]), {
    embeddings: [{ values: [1] }, { values: [2] }],
  });
});
