/**
 * A local, protocol-faithful Gemini embeddings server for offline runs and
 * tests: Gemini's routes, keys, limits, 429 bodies with `RetryInfo`, seeded
 * faults and a latency model. Its vectors are deterministic, not Gemini's.
 *
 * - {@linkcode startSimulator}: the server on a loopback port.
 * - {@linkcode createSimulatorHandler}: the same as a `fetch`-style handler.
 * - {@linkcode simulatorClient}: an in-process SDK stand-in, no sockets.
 * - {@linkcode SIMULATOR_FLAGS}: the `--simulate-*` flags a CLI can reuse.
 *
 * @example Calling the simulator over HTTP
 * ```ts
 * import { startSimulator } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const response = await fetch(
 *   `${simulator.url}/v1beta/models/gemini-embedding-001:batchEmbedContents`,
 *   {
 *     method: "POST",
 *     headers: { "x-goog-api-key": "any", "content-type": "application/json" },
 *     body: JSON.stringify({
 *       requests: [{ model: "models/gemini-embedding-001", content: { parts: [{ text: "hi" }] }, outputDimensionality: 3 }],
 *     }),
 *   },
 * );
 * const body = await response.json();
 * assert.equal(body.embeddings[0].values.length, 3);
 * ```
 *
 * @module
 */

export * from "./server.ts";
export * from "./client.ts";
export * from "./flags.ts";
