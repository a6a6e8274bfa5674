import assert from "node:assert/strict";
import { cacheKey, type CacheKeyContext, keyToHex } from "./key.ts";

const base: CacheKeyContext = {
  model: "gemini-embedding-001",
  dimensions: 768,
  taskType: "RETRIEVAL_DOCUMENT",
  title: "Guide",
};
const hex = (context: CacheKeyContext, text: string) => keyToHex(cacheKey(context, text));

Deno.test("cacheKey is 32 bytes and the same for the same fields", () => {
  const key = cacheKey(base, "hello");
  assert.equal(key.byteLength, 32);
  assert.equal(keyToHex(key), hex({ ...base }, "hello"));
  assert.equal(hex({ ...base, model: "models/gemini-embedding-001" }, "hello"), keyToHex(key));
});

Deno.test("cacheKey changes when any one field changes", async (t) => {
  const reference = hex(base, "hello");
  const variants: [string, CacheKeyContext, string][] = [
    ["model", { ...base, model: "gemini-embedding-2" }, "hello"],
    ["dimensions", { ...base, dimensions: 1536 }, "hello"],
    [
      "dimensions unset",
      { model: base.model, taskType: "RETRIEVAL_DOCUMENT", title: "Guide" },
      "hello",
    ],
    ["task type", { ...base, taskType: "RETRIEVAL_QUERY" }, "hello"],
    ["task type unset", { model: base.model, dimensions: 768, title: "Guide" }, "hello"],
    ["title", { ...base, title: "Guide 2" }, "hello"],
    ["title empty, not unset", { ...base, title: "" }, "hello"],
    ["text", base, "hello!"],
    ["text by one space", base, "hello "],
    ["text case", base, "Hello"],
  ];
  const seen = new Set([reference]);
  for (const [name, context, text] of variants) {
    await t.step(name, () => {
      const key = hex(context, text);
      assert.notEqual(key, reference);
      assert.ok(!seen.has(key), `${name} collides with another variant`);
      seen.add(key);
    });
  }
});

Deno.test("cacheKey cannot be fooled by moving text across a field boundary", () => {
  // Naive concatenation with a separator would make these equal.
  const a = hex({ model: "m", title: "a|b" }, "c");
  const b = hex({ model: "m", title: "a" }, "b|c");
  assert.notEqual(a, b);
  const c = hex({ model: "m", title: '","' }, "x");
  const d = hex({ model: "m", title: "" }, '","x');
  assert.notEqual(c, d);
});
