/**
 * An in-process stand-in for the `@google/genai` client that sends its calls
 * straight to a simulator handler, without a socket. It builds the same REST
 * body the SDK builds and fails the way the SDK fails (the SDK's own
 * `ApiError`, with the JSON error body as its message; a dropped connection
 * as fetch's `TypeError: error reading a body from connection`), so a
 * {@linkcode GeminiEmbedder} over it runs its real code path — under fake
 * time, where a loopback socket would not interleave with the fake clock.
 *
 * @module
 */

import { ApiError } from "@google/genai";
import type { GeminiClient } from "../gemini/embedder.ts";
import { SimulatedConnectionDrop, type SimulatorHandler } from "./server.ts";

/** Options for {@linkcode simulatorClient}. */
export interface SimulatorClientOptions {
  /**
   * The key sent in the `x-goog-api-key` header.
   *
   * @default {"simulator"}
   */
  apiKey?: string;
  /**
   * The API version in the path.
   *
   * @default {"v1"}
   */
  apiVersion?: string;
}

/**
 * Creates a {@linkcode GeminiClient} that calls `handler` directly.
 *
 * @param handler A simulator handler from `createSimulatorHandler`.
 * @param options Key and API version.
 * @returns A client to pass as `GeminiEmbedder`'s `client` option.
 *
 * @example Usage
 * ```ts
 * import { simulatorClient } from "./client.ts";
 * import { createSimulatorHandler, simulatedEmbedding } from "./server.ts";
 * import { GeminiEmbedder } from "../gemini/embedder.ts";
 * import assert from "node:assert/strict";
 *
 * const embedder = new GeminiEmbedder({
 *   client: simulatorClient(createSimulatorHandler()),
 *   outputDimensionality: 4,
 * });
 * assert.deepEqual(await embedder.embed(["a"]), [simulatedEmbedding("a", 4)]);
 * ```
 */
export function simulatorClient(
  handler: SimulatorHandler,
  options: SimulatorClientOptions = {},
): GeminiClient {
  const { apiKey = "simulator", apiVersion = "v1" } = options;
  return {
    models: {
      async embedContent(params) {
        const signal = params.config.abortSignal;
        signal?.throwIfAborted();
        const model = params.model.startsWith("models/") ? params.model : `models/${params.model}`;
        const { taskType, outputDimensionality } = params.config;
        const body = {
          requests: params.contents.map((content) => ({
            content,
            ...(taskType !== undefined ? { taskType } : {}),
            ...(outputDimensionality !== undefined ? { outputDimensionality } : {}),
            model,
          })),
        };
        let response: Response;
        try {
          response = await handler(
            new Request(`http://simulator/${apiVersion}/${model}:batchEmbedContents`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-goog-api-key": apiKey },
              body: JSON.stringify(body),
              ...(signal ? { signal } : {}),
            }),
          );
        } catch (error) {
          if (!(error instanceof SimulatedConnectionDrop)) throw error;
          // What fetch, and so the SDK, rejects with when startSimulator drops a call.
          throw new TypeError("error reading a body from connection", { cause: error });
        }
        signal?.throwIfAborted();
        const text = await response.text();
        if (!response.ok) throw new ApiError({ message: text, status: response.status });
        return JSON.parse(text);
      },
    },
  };
}
