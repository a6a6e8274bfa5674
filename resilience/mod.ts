/**
 * The embed stage's engine, for any {@linkcode Embedder}: one result per input
 * within Gemini's limits. {@linkcode ResilientEmbedder} splits calls at 100
 * texts, keeps texts within the token limit, waits for the RPM/TPM quota
 * ({@linkcode QuotaLimiter}), retries with backoff ({@linkcode retryPolicy}),
 * and narrows a rejected batch down to the text at fault.
 *
 * @example One result per input, through a flaky embedder
 * ```ts
 * import { ResilientEmbedder } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * let calls = 0;
 * const flaky = {
 *   embed(texts: string[]) {
 *     if (calls++ === 0) return Promise.reject(new TypeError("fetch failed")); // a network error: retried
 *     return Promise.resolve(texts.map((t) => [t.length]));
 *   },
 * };
 * const embedder = new ResilientEmbedder(flaky, { retry: { initialDelay: 0 } });
 * const results = await embedder.embedEach(["a", "bb"]);
 * assert.deepEqual(results.map((r) => r.ok && r.embedding), [[1], [2]]);
 * ```
 *
 * @module
 */

export * from "./resilient_embedder.ts";
export * from "./retry.ts";
export * from "./quota_limiter.ts";
export * from "./tokens.ts";
export * from "./circuit_breaker.ts";
export * from "./network_failure.ts";
