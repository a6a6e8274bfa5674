import assert from "node:assert/strict";
import { HttpError } from "./_http_error.ts";

Deno.test("HttpError answers in Gemini's error shape on Gemini routes", async () => {
  const response = new HttpError("rate_limited", "Slow down: 3 requests in flight", {
    retryAfter: 1.2,
  }).toResponse("gemini");
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "2");
  assert.deepEqual(await response.json(), {
    error: { code: 429, message: "Slow down: 3 requests in flight", status: "RESOURCE_EXHAUSTED" },
  });
});

Deno.test("HttpError answers in OpenAI's error shape on the OpenAI route", async () => {
  const response = new HttpError("invalid", "Too many inputs: received 101", { param: "input" })
    .toResponse("openai");
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("retry-after"), null);
  assert.deepEqual(await response.json(), {
    error: {
      message: "Too many inputs: received 101",
      type: "invalid_request_error",
      param: "input",
      code: "invalid_value",
    },
  });
  const unauthenticated = new HttpError("unauthenticated", "No token").toResponse("openai");
  assert.equal(unauthenticated.status, 401);
  assert.equal((await unauthenticated.json()).error.code, "invalid_api_key");
});
