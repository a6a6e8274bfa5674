import assert from "node:assert/strict";
import { requestToken, TokenSet } from "./_auth.ts";

Deno.test("TokenSet matches a known token by index and refuses others", () => {
  const tokens = new TokenSet(["alpha", "beta", "alpha"]);
  assert.equal(tokens.size, 2);
  assert.equal(tokens.match("alpha"), 0);
  assert.equal(tokens.match("beta"), 1);
  assert.equal(tokens.match("bet"), -1);
  assert.equal(tokens.match(""), -1);
  assert.equal(tokens.match("alphaalpha"), -1, "a repetition of a token is not the token");
  assert.equal(tokens.match("alpha\0"), -1);
  assert.equal(new TokenSet([]).size, 0);
  assert.throws(() => new TokenSet([" padded"]), TypeError);
  assert.throws(() => new TokenSet([""]), TypeError);
});

Deno.test("requestToken reads x-goog-api-key, Authorization: Bearer, then ?key=", async (t) => {
  const read = (headers: Record<string, string>, query = "") => {
    const url = new URL(`http://h/v1/embeddings${query}`);
    return requestToken(new Request(url, { headers }), url);
  };
  await t.step("Gemini header", () => assert.equal(read({ "x-goog-api-key": "g" }), "g"));
  await t.step("OpenAI bearer", () => assert.equal(read({ authorization: "Bearer o" }), "o"));
  await t.step("query key", () => assert.equal(read({}, "?key=q"), "q"));
  await t.step("none", () => assert.equal(read({ authorization: "Basic xyz" }), undefined));
  await t.step(
    "header first",
    () => assert.equal(read({ "x-goog-api-key": "g", authorization: "Bearer o" }, "?key=q"), "g"),
  );
});
