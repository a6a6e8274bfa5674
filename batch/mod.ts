/**
 * Gemini's Batch API for embeddings: half the interactive price, no
 * requests-per-minute limit, results within a 24-hour target.
 *
 * ```ts
 * import { embedWithBatchApi } from "./mod.ts";
 * import { startSimulator } from "../simulator/server.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator({ batch: { pendingMs: 5, runningMs: 5 } });
 * let count = 0;
 * for await (const result of embedWithBatchApi([{ id: 1, text: "hello" }], {
 *   apiKey: "any",
 *   baseUrl: simulator.url,
 *   pollInterval: 10,
 * })) {
 *   assert.ok("embedding" in result);
 *   count++;
 * }
 * assert.equal(count, 1);
 * ```
 *
 * @module
 */

export * from "./embed_with_batch_api.ts";
export * from "./cancel_jobs.ts";
export * from "./client.ts";
export * from "./journal.ts";
export * from "./job_lines.ts";
export * from "./cost.ts";
