import assert from "node:assert/strict";
import { jobLine, parseResultItem, parseResultLine } from "./job_lines.ts";

Deno.test("jobLine writes the key and an EmbedContentRequest", () => {
  const line = jobLine("3", 'a "quoted"\ntext', {
    model: "models/gemini-embedding-001",
    taskType: "RETRIEVAL_DOCUMENT",
  });
  assert.ok(line.endsWith("\n"));
  assert.equal(line.indexOf("\n"), line.length - 1, "one line, newlines escaped");
  assert.deepEqual(JSON.parse(line), {
    key: "3",
    request: {
      model: "models/gemini-embedding-001",
      content: { parts: [{ text: 'a "quoted"\ntext' }] },
      taskType: "RETRIEVAL_DOCUMENT",
    },
  });
});

Deno.test("jobLine carries a title for gemini-embedding-001's documents", () => {
  const line = jobLine("1", "body", {
    model: "gemini-embedding-001",
    taskType: "RETRIEVAL_DOCUMENT",
    title: "Help",
    dimensions: 768,
  });
  assert.deepEqual(JSON.parse(line).request, {
    model: "models/gemini-embedding-001",
    content: { parts: [{ text: "body" }] },
    taskType: "RETRIEVAL_DOCUMENT",
    title: "Help",
    outputDimensionality: 768,
  });
});

Deno.test("parseResultLine reads responses, error lines and token counts", async (t) => {
  await t.step("tokenCount as an int64 string", () => {
    assert.deepEqual(
      parseResultLine('{"response":{"tokenCount":"12","embedding":{"values":[1,2]}},"key":"k"}'),
      { key: "k", values: [1, 2], tokens: 12 },
    );
  });
  await t.step("gemini-embedding-2's usageMetadata, and no count", () => {
    assert.deepEqual(
      parseResultItem("k", {
        response: { embedding: { values: [0] }, usageMetadata: { promptTokenCount: 81 } },
      }),
      { key: "k", values: [0], tokens: 81 },
    );
    assert.deepEqual(parseResultItem("k", { response: { embedding: { values: [0] } } }), {
      key: "k",
      values: [0],
      tokens: undefined,
    });
  });
  await t.step("an error line without a status", () => {
    assert.deepEqual(parseResultLine('{"error":{"code":13,"message":"x"},"key":"9"}'), {
      key: "9",
      error: { code: 13, message: "x", status: undefined },
    });
  });
  await t.step("lines that are neither", () => {
    assert.equal(parseResultLine('{"key":"1"}'), undefined);
    assert.equal(parseResultLine('{"response":{"embedding":{"values":[1]}}}'), undefined, "no key");
    assert.equal(
      parseResultLine('{"response":{"embedding":{"values":["1"]}},"key":"1"}'),
      undefined,
      "values must be numbers",
    );
    assert.equal(parseResultLine("[1]"), undefined);
  });
});
