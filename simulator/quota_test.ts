import assert from "node:assert/strict";
import { countTokens } from "./quota.ts";
import { createSimulatorHandler, type SimulatorHandler } from "./server.ts";
import { FakeTime } from "../internal/fake_time.ts";

const MODEL = "gemini-embedding-001";
const ENDPOINT = `http://simulator/v1beta/models/${MODEL}:batchEmbedContents`;

/** Sends one call of `texts` (4 dimensions each) with `key`. */
function call(handler: SimulatorHandler, texts: string[], key = "key-a") {
  return handler(
    new Request(ENDPOINT, {
      method: "POST",
      headers: { "x-goog-api-key": key },
      body: JSON.stringify({
        requests: texts.map((text) => ({
          model: `models/${MODEL}`,
          content: { parts: [{ text }] },
          outputDimensionality: 4,
        })),
      }),
    }),
  );
}

async function statusOf(response: Promise<Response>): Promise<number> {
  const r = await response;
  await r.body?.cancel();
  return r.status;
}

const REQUESTS_METRIC = "generativelanguage.googleapis.com/embed_content_free_tier_requests";
const TOKENS_METRIC = "generativelanguage.googleapis.com/embed_content_free_tier_input_token_count";
const HELP = {
  "@type": "type.googleapis.com/google.rpc.Help",
  links: [{
    description: "Learn more about Gemini API quotas",
    url: "https://ai.google.dev/gemini-api/docs/rate-limits",
  }],
};
const PREAMBLE =
  "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n";

Deno.test("countTokens counts one token per 4 UTF-8 bytes, rounded up", () => {
  assert.equal(countTokens(""), 0);
  assert.equal(countTokens("a"), 1);
  assert.equal(countTokens("abcd"), 1);
  assert.equal(countTokens("abcde"), 2);
  assert.equal(countTokens("a".repeat(8192)), 2048);
  assert.equal(countTokens("é"), 1); // 2 bytes
  assert.equal(countTokens("日本語"), 3); // 9 bytes
  assert.equal(countTokens("😀😀"), 2); // 8 bytes: two surrogate pairs
  assert.equal(countTokens("\ud800x"), 1); // a lone surrogate encodes as 3 bytes
  for (const text of ["héllo wörld", "日本語のテキスト", "emoji 😀 mix", "\ud800\ud800"]) {
    assert.equal(countTokens(text), Math.ceil(new TextEncoder().encode(text).length / 4), text);
  }
});

Deno.test("Quota: an RPM overflow gets Gemini's 429 body, RetryInfo and Retry-After", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ rpm: 2 });
  assert.equal(await statusOf(call(handler, ["a"])), 200);
  await time.tick(1000);
  assert.equal(await statusOf(call(handler, ["b"])), 200);
  await time.tick(4000);
  const response = await call(handler, ["c"]);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "55");
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(await response.json(), {
    error: {
      code: 429,
      message: PREAMBLE +
        `* Quota exceeded for metric: ${REQUESTS_METRIC}, limit: 2, model: ${MODEL}\n` +
        "Please retry in 55s.",
      status: "RESOURCE_EXHAUSTED",
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.QuotaFailure",
          violations: [{
            quotaMetric: REQUESTS_METRIC,
            quotaId: "EmbedContentRequestsPerMinutePerProjectPerModel-FreeTier",
            quotaDimensions: { location: "global", model: MODEL },
            quotaValue: "2",
          }],
        },
        HELP,
        { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "55s" },
      ],
    },
  });
  assert.equal(handler.stats.rateLimited, 1);
  assert.equal(handler.stats.byStatus[429], 1);
});

Deno.test("Quota: a fractional wait is a fractional retryDelay and a rounded-up Retry-After", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ rpm: 1 });
  assert.equal(await statusOf(call(handler, ["a"])), 200);
  await time.tick(59_750);
  const response = await call(handler, ["b"]);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "1");
  const { error } = await response.json();
  assert.deepEqual(error.details[2], {
    "@type": "type.googleapis.com/google.rpc.RetryInfo",
    retryDelay: "0.250s",
  });
  assert.match(error.message, /Please retry in 0\.250s\.$/);
});

Deno.test("Quota: the window slides, admitting a call exactly when the oldest one leaves", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ rpm: 2 });
  assert.equal(await statusOf(call(handler, ["a"])), 200); // t = 0
  await time.tick(30_000);
  assert.equal(await statusOf(call(handler, ["b"])), 200); // t = 30 s
  await time.tick(29_999);
  assert.equal(await statusOf(call(handler, ["c"])), 429); // t = 59.999 s: both still count
  await time.tick(1);
  assert.equal(await statusOf(call(handler, ["d"])), 200); // t = 60 s: the first has left
  assert.equal(await statusOf(call(handler, ["e"])), 429);
  const response = await call(handler, ["f"]);
  // The call at 30 s leaves at 90 s.
  assert.equal(response.headers.get("retry-after"), "30");
  await response.body?.cancel();
  assert.equal(handler.stats.peakRequestsPerMinute, 2);
});

Deno.test("Quota: rejected calls do not consume quota", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ rpm: 1, tpm: 100 });
  assert.equal(await statusOf(call(handler, ["abcd"])), 200);
  for (let i = 0; i < 5; i++) {
    await time.tick(10_000);
    assert.equal(await statusOf(call(handler, ["abcd".repeat(10)])), 429);
  }
  await time.tick(10_000); // t = 60 s: only the admitted call ever counted
  assert.equal(await statusOf(call(handler, ["abcd"])), 200);
  assert.deepEqual(handler.keyStats("key-a"), {
    requests: 2,
    tokens: 2,
    rateLimited: 5,
    peakRequestsPerMinute: 1,
    peakTokensPerMinute: 1,
  });
  assert.equal(handler.stats.tokens, 2);
});

Deno.test("Quota: a TPM overflow waits until enough tokens have left the window", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ tpm: 10 });
  assert.equal(await statusOf(call(handler, ["x".repeat(16)])), 200); // 4 tokens at 0 s
  await time.tick(10_000);
  assert.equal(await statusOf(call(handler, ["x".repeat(16)])), 200); // 4 tokens at 10 s
  await time.tick(10_000);
  // 8 + 3 > 10: the first call (4 tokens) must leave, at 60 s.
  let response = await call(handler, ["x".repeat(12)]);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "40");
  const { error } = await response.json();
  assert.match(error.message, new RegExp(`metric: ${TOKENS_METRIC}, limit: 10,`));
  assert.deepEqual(error.details[0].violations, [{
    quotaMetric: TOKENS_METRIC,
    quotaId: "EmbedContentInputTokensPerModelPerMinute-FreeTier",
    quotaDimensions: { location: "global", model: MODEL },
    quotaValue: "10",
  }]);
  // 8 + 9 > 10: both must leave, the second at 70 s.
  response = await call(handler, ["x".repeat(36)]);
  assert.equal(response.headers.get("retry-after"), "50");
  await response.body?.cancel();
  await time.tick(40_000);
  assert.equal(await statusOf(call(handler, ["x".repeat(12)])), 200);
  assert.equal(handler.stats.peakTokensPerMinute, 8);
});

Deno.test("Quota: a call breaking both limits names both violations", async () => {
  using _time = new FakeTime();
  const handler = createSimulatorHandler({ rpm: 1, tpm: 5 });
  assert.equal(await statusOf(call(handler, ["x".repeat(16)])), 200);
  const { error } = await (await call(handler, ["x".repeat(8)])).json();
  assert.deepEqual(
    error.details[0].violations.map((v: { quotaMetric: string }) => v.quotaMetric),
    [REQUESTS_METRIC, TOKENS_METRIC],
  );
  assert.equal(error.details[2].retryDelay, "60s");
});

Deno.test("Quota: a call that alone exceeds TPM gets 429 without RetryInfo", async () => {
  using _time = new FakeTime();
  const handler = createSimulatorHandler({ tpm: 10 });
  const response = await call(handler, ["x".repeat(24), "x".repeat(24)]); // 12 tokens
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), null);
  const { error } = await response.json();
  assert.equal(error.status, "RESOURCE_EXHAUSTED");
  assert.deepEqual(error.details.map((d: { "@type": string }) => d["@type"]), [
    "type.googleapis.com/google.rpc.QuotaFailure",
    "type.googleapis.com/google.rpc.Help",
  ]);
  assert.match(error.message, /can never succeed/);
});

Deno.test("Quota: each API key has its own window", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ rpm: 1 });
  assert.equal(await statusOf(call(handler, ["a"], "key-a")), 200);
  assert.equal(await statusOf(call(handler, ["a"], "key-b")), 200);
  assert.equal(await statusOf(call(handler, ["a"], "key-a")), 429);
  await time.tick(60_000);
  assert.equal(await statusOf(call(handler, ["a"], "key-a")), 200);
  assert.equal(handler.keyStats("key-a")?.requests, 2);
  assert.equal(handler.keyStats("key-a")?.rateLimited, 1);
  assert.equal(handler.keyStats("key-b")?.requests, 1);
  assert.equal(handler.keyStats("key-c"), undefined);
  assert.equal(handler.stats.peakRequestsPerMinute, 1);
});

Deno.test("Quota: stats record the peak per-minute load, even without limits", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler();
  for (let i = 0; i < 5; i++) {
    assert.equal(await statusOf(call(handler, ["abcd", "abcdabcd"])), 200); // 3 tokens
    await time.tick(20_000);
  }
  // Calls at 0, 20, 40, 60, 80 s: at most 3 in any 60 s window.
  assert.equal(handler.stats.peakRequestsPerMinute, 3);
  assert.equal(handler.stats.peakTokensPerMinute, 9);
  assert.equal(handler.stats.tokens, 15);
});

Deno.test("A text over maxInputTokens makes the whole call 400, naming its index", async () => {
  const handler = createSimulatorHandler({ maxInputTokens: 2 });
  const response = await call(handler, ["ok", "12345678", "123456789"]);
  assert.equal(response.status, 400);
  const { error } = await response.json();
  assert.equal(error.status, "INVALID_ARGUMENT");
  assert.equal(
    error.message,
    "* BatchEmbedContentsRequest.requests[2].content: The input token count (3) exceeds the maximum number of tokens allowed (2).",
  );
  assert.equal(handler.stats.texts, 0);
  assert.equal(handler.stats.tokens, 0);

  const defaults = createSimulatorHandler();
  assert.equal(await statusOf(call(defaults, ["a".repeat(8192)])), 200);
  const long = await (await call(defaults, ["a", "a".repeat(8193)])).json();
  assert.match(long.error.message, /requests\[1\].*\(2049\) exceeds .* \(2048\)\.$/);
});

Deno.test("createSimulatorHandler rejects invalid quota options with RangeError", () => {
  for (const [name, value] of [["rpm", 0], ["tpm", 1.5], ["maxInputTokens", -1]] as const) {
    assert.throws(() => createSimulatorHandler({ [name]: value }), {
      name: "RangeError",
      message: `Cannot create simulator: ${name} must be a positive integer, received ${value}`,
    });
  }
  assert.doesNotThrow(() => createSimulatorHandler({ rpm: Infinity, tpm: Infinity }));
});
