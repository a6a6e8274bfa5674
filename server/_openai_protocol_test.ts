import assert from "node:assert/strict";
import { HttpError } from "./_http_error.ts";
import { embeddingsResponse, float32Base64, parseEmbeddingsRequest } from "./_openai_protocol.ts";

Deno.test("parseEmbeddingsRequest reads a string or an array of strings", () => {
  assert.deepEqual(parseEmbeddingsRequest({ input: "hi", model: "models/m" }), {
    texts: ["hi"],
    model: "m",
    encoding: "float",
  });
  assert.deepEqual(
    parseEmbeddingsRequest({
      input: ["a", "b"],
      model: "m",
      dimensions: 8,
      encoding_format: "base64",
      user: "ignored",
    }),
    { texts: ["a", "b"], model: "m", dimensions: 8, encoding: "base64" },
  );
});

Deno.test("parseEmbeddingsRequest refuses bad fields, naming the param", async (t) => {
  const cases: [string, unknown, string][] = [
    ["no model", { input: "x" }, "model"],
    ["no input", { model: "m" }, "input"],
    ["empty array", { model: "m", input: [] }, "input"],
    ["101 inputs", { model: "m", input: Array(101).fill("x") }, "input"],
    ["token array", { model: "m", input: [[1, 2]] }, "input"],
    ["empty string", { model: "m", input: "" }, "input"],
    ["dimensions", { model: "m", input: "x", dimensions: 0 }, "dimensions"],
    ["encoding", { model: "m", input: "x", encoding_format: "hex" }, "encoding_format"],
  ];
  for (const [name, body, param] of cases) {
    await t.step(name, () =>
      assert.throws(
        () => parseEmbeddingsRequest(body),
        (e) => e instanceof HttpError && e.status === 400 && e.init.param === param,
      ));
  }
});

Deno.test("float32Base64 packs little-endian float32 values", () => {
  const text = float32Base64([1, -2.5]);
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  assert.deepEqual([...bytes], [0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0]);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getFloat32(4, true), -2.5);
});

Deno.test("embeddingsResponse lists the vectors in order with the usage", () => {
  const request = parseEmbeddingsRequest({ input: ["hello world", "x"], model: "m" });
  assert.deepEqual(embeddingsResponse(request, [[0.5], [0.25]]), {
    object: "list",
    data: [
      { object: "embedding", index: 0, embedding: [0.5] },
      { object: "embedding", index: 1, embedding: [0.25] },
    ],
    model: "m",
    usage: { prompt_tokens: 5, total_tokens: 5 },
  });
});
