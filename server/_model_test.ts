import assert from "node:assert/strict";
import { bareModel, maxInputTokens } from "./_model.ts";

Deno.test("maxInputTokens knows gemini-embedding-2's larger limit", () => {
  assert.equal(maxInputTokens("gemini-embedding-001"), 2048);
  assert.equal(maxInputTokens("models/gemini-embedding-2"), 8192);
  assert.equal(maxInputTokens("gemini-embedding-2-preview"), 8192);
  assert.equal(bareModel("models/x"), "x");
  assert.equal(bareModel("x"), "x");
});
