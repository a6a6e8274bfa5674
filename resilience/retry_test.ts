import assert from "node:assert/strict";
import { backoffDelay, classifyError, retryDelayOf, retryPolicy } from "./retry.ts";
import { EmbeddingCountError, GeminiApiError } from "../errors.ts";
import { seededRandom } from "../internal/random.ts";

function apiError(status: number, details: unknown[] = []): GeminiApiError {
  return new GeminiApiError({
    status,
    code: status === 429 ? "RESOURCE_EXHAUSTED" : "X",
    message: "m",
    details,
  });
}

Deno.test("classifyError retries transient failures only", () => {
  for (const status of [408, 429, 500, 502, 503, 504]) {
    assert.equal(classifyError(apiError(status)).retryable, true, `${status}`);
  }
  for (const status of [400, 401, 403, 404]) {
    assert.equal(classifyError(apiError(status)).retryable, false, `${status}`);
  }
  assert.equal(classifyError(apiError(429)).rateLimited, true);
  assert.equal(classifyError(new TypeError("error sending request")).retryable, true);
  assert.equal(classifyError(new DOMException("late", "TimeoutError")).code, "TIMEOUT");
  assert.equal(classifyError(new EmbeddingCountError(2, 1)).code, "EMBEDDING_COUNT");
  assert.deepEqual(
    classifyError(new GeminiApiError({ status: 502, code: "UNKNOWN", message: "Bad Gateway" }))
      .code,
    "HTTP_502",
  );
  assert.equal(classifyError("weird").retryable, false);
});

Deno.test("retryDelayOf reads RetryInfo and Retry-After", () => {
  const info = (retryDelay: unknown) =>
    apiError(429, [
      { "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [] },
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay },
    ]);
  assert.equal(retryDelayOf(info("17s")), 17_000);
  assert.equal(retryDelayOf(info("0.250s")), 250);
  assert.equal(retryDelayOf(info({ seconds: 2, nanos: 500_000_000 })), 2500);
  assert.equal(retryDelayOf(info("soon")), undefined);
  const withHeader = Object.assign(new Error("x"), {
    headers: new Headers({ "retry-after": "3" }),
  });
  assert.equal(retryDelayOf(withHeader), 3000);
  assert.equal(retryDelayOf(Object.assign(new Error("x"), { retryAfter: "4" })), 4000);
  assert.equal(retryDelayOf(new Error("none")), undefined);
});

Deno.test("backoffDelay is full jitter under a doubling, capped bound", () => {
  const policy = retryPolicy({ initialDelay: 100, maxDelay: 1000, random: seededRandom(1) });
  for (let retry = 1; retry <= 8; retry++) {
    const cap = Math.min(1000, 100 * 2 ** (retry - 1));
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(retry, policy);
      assert.ok(delay >= 0 && delay <= cap, `${delay} within [0, ${cap}]`);
    }
  }
  assert.throws(() => retryPolicy({ maxAttempts: 0 }), RangeError);
  assert.throws(() => retryPolicy({ maxDelay: "soon" }), RangeError);
});
