import assert from "node:assert/strict";
import { EmbeddingCountError, GeminiApiError, MissingApiKeyError, redactSecret } from "./errors.ts";

Deno.test("redactSecret replaces every occurrence of the secret", () => {
  assert.equal(
    redactSecret('{"key":"s3cr3t","again":"xs3cr3tx"}', "s3cr3t"),
    '{"key":"[REDACTED]","again":"x[REDACTED]x"}',
  );
});

Deno.test("redactSecret leaves text alone for an empty or missing secret", () => {
  assert.equal(redactSecret("abc", ""), "abc");
  assert.equal(redactSecret("abc", undefined), "abc");
  assert.equal(redactSecret("abc", "zzz"), "abc");
});

Deno.test("redactSecret treats the secret literally, not as a pattern", () => {
  assert.equal(redactSecret("a.b a+b", "a.b"), "[REDACTED] a+b");
  assert.equal(redactSecret("key $& here", "$&"), "key [REDACTED] here");
});

Deno.test("GeminiApiError.fromBody parses Gemini's error shape", () => {
  const details = [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "12s" }];
  const cause = new Error("sdk error");
  const error = GeminiApiError.fromBody(
    429,
    JSON.stringify({
      error: { code: 429, message: "Quota exceeded", status: "RESOURCE_EXHAUSTED", details },
    }),
    { cause },
  );
  assert.ok(error instanceof Error);
  assert.equal(error.name, "GeminiApiError");
  assert.equal(error.status, 429);
  assert.equal(error.code, "RESOURCE_EXHAUSTED");
  assert.equal(error.message, "Quota exceeded");
  assert.deepEqual(error.details, details);
  assert.equal(error.cause, cause);
});

Deno.test("GeminiApiError.fromBody keeps a body it cannot parse as the message", async (t) => {
  const cases: [string, string, string][] = [
    ["plain text", "upstream connect error", "UNKNOWN"],
    ["JSON without an error object", '{"oops":true}', "UNKNOWN"],
    ["an array", "[1,2]", "UNKNOWN"],
  ];
  for (const [name, body, code] of cases) {
    await t.step(name, () => {
      const error = GeminiApiError.fromBody(502, body);
      assert.equal(error.message, body);
      assert.equal(error.code, code);
      assert.equal(error.status, 502);
      assert.deepEqual(error.details, []);
    });
  }
});

Deno.test("GeminiApiError.fromBody accepts only RPC status names as the code", () => {
  // The SDK wraps a non-JSON body as {error:{message, code, status: statusText}}.
  const body = JSON.stringify({
    error: { message: "<html>bad gateway</html>", code: 502, status: "Bad Gateway" },
  });
  const error = GeminiApiError.fromBody(502, body);
  assert.equal(error.code, "UNKNOWN");
  assert.equal(error.message, "<html>bad gateway</html>");
});

Deno.test("GeminiApiError.fromBody falls back to the body when the message is missing", () => {
  const body = '{"error":{"code":500,"status":"INTERNAL","details":"not an array"}}';
  const error = GeminiApiError.fromBody(500, body);
  assert.equal(error.code, "INTERNAL");
  assert.equal(error.message, body);
  assert.deepEqual(error.details, []);
});

Deno.test("GeminiApiError can be built from its fields", () => {
  const error = new GeminiApiError({ status: 503, code: "UNAVAILABLE", message: "overloaded" });
  assert.equal(error.message, "overloaded");
  assert.deepEqual(error.details, []);
  assert.equal(String(error), "GeminiApiError: overloaded");
});

Deno.test("EmbeddingCountError carries the expected and received counts", () => {
  const error = new EmbeddingCountError(100, 99);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "EmbeddingCountError");
  assert.deepEqual([error.expected, error.received], [100, 99]);
  assert.equal(
    error.message,
    "Cannot embed texts: expected 100 embeddings with values, received 99",
  );
});

Deno.test("MissingApiKeyError explains how to supply a key", () => {
  const error = new MissingApiKeyError();
  assert.ok(error instanceof Error);
  assert.equal(error.name, "MissingApiKeyError");
  assert.equal(
    error.message,
    "Cannot create Gemini client: no API key, pass the apiKey option or set the GEMINI_API_KEY or GOOGLE_API_KEY environment variable",
  );
  const cause = new Error("env");
  const custom = new MissingApiKeyError("Cannot run: no key", { cause });
  assert.equal(custom.message, "Cannot run: no key");
  assert.equal(custom.cause, cause);
});

Deno.test("redactSecret keeps messages readable for a short key and still hides it", () => {
  const message = "Request has too many tokens for key t (t) in text; keep going";
  assert.equal(
    redactSecret(message, "t"),
    "Request has too many tokens for key [REDACTED] ([REDACTED]) in text; keep going",
  );
  assert.equal(redactSecret("key=ab-cd&x=1", "ab-cd"), "key=[REDACTED]&x=1");
  assert.equal(redactSecret("abc-def", "abc"), "abc-def", "part of a longer token: not the key");
  const real = "AIzaSyD-example_key_0123456789abcdefghi";
  assert.equal(redactSecret(`url?key=${real}x`, real), "url?key=[REDACTED]x");
});
