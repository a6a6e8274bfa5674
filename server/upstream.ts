/**
 * What the server sends texts to: one {@linkcode Embedder} per group of texts
 * that can share a call (same model, dimensions, task type and title).
 *
 * @module
 */

import { GoogleGenAI } from "@google/genai";
import type { Embedder } from "../embedder.ts";
import { GeminiEmbedder } from "../gemini/embedder.ts";
import type { GeminiTaskType } from "../gemini/task_types.ts";

/** The settings that texts sharing one upstream call must have in common. */
export interface EmbedGroup {
  /** The model, without the `models/` prefix. */
  model: string;
  /** `outputDimensionality`; the model's default when unset. */
  dimensions?: number;
  /** Gemini's `taskType`, when the client set one. */
  taskType?: GeminiTaskType;
  /** Gemini's `title` (with `RETRIEVAL_DOCUMENT`), when the client set one. */
  title?: string;
}

/** Makes the embedder for one group; called once per group the server sees. */
export type UpstreamFactory = (group: EmbedGroup) => Embedder;

/** Options of {@linkcode geminiUpstream}. */
export interface GeminiUpstreamOptions {
  /** The server's own Gemini API key: sent upstream only, never logged or echoed. */
  apiKey: string;
  /**
   * The Gemini API's base URL, such as a simulator's; Google's when unset.
   *
   * @default {undefined}
   */
  baseUrl?: string;
  /**
   * The API version; the SDK's default when unset.
   *
   * @default {undefined}
   */
  apiVersion?: string;
}

/**
 * Sends each group's texts to Gemini through one shared `@google/genai`
 * client, as `batchEmbedContents` calls carrying the group's model,
 * dimensions, task type and title.
 *
 * @param options The server's API key and where the API is.
 * @returns A factory of one {@linkcode GeminiEmbedder} per group.
 * @throws {TypeError} If `apiKey` is empty.
 *
 * @example Usage
 * ```ts
 * import { geminiUpstream } from "./upstream.ts";
 * import { simulatedEmbedding, startSimulator } from "../simulator/mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const upstream = geminiUpstream({ apiKey: "server-key", baseUrl: simulator.url });
 * const embedder = upstream({ model: "gemini-embedding-2", dimensions: 4 });
 * assert.deepEqual(await embedder.embed(["hi"]), [simulatedEmbedding("hi", 4, "gemini-embedding-2")]);
 * ```
 */
export function geminiUpstream(options: GeminiUpstreamOptions): UpstreamFactory {
  if (options.apiKey === "") {
    throw new TypeError("Cannot create Gemini upstream: apiKey must not be empty");
  }
  const sdk = new GoogleGenAI({
    apiKey: options.apiKey,
    vertexai: false,
    ...(options.apiVersion !== undefined && { apiVersion: options.apiVersion }),
    ...(options.baseUrl !== undefined && { httpOptions: { baseUrl: options.baseUrl } }),
  });
  return (group) => {
    const { title } = group;
    const client = title === undefined ? sdk : {
      models: {
        embedContent: (params: Parameters<GoogleGenAI["models"]["embedContent"]>[0]) =>
          sdk.models.embedContent({ ...params, config: { ...params.config, title } }),
      },
    };
    return new GeminiEmbedder({
      client,
      apiKey: options.apiKey, // only to redact it from error messages
      model: group.model,
      ...(group.dimensions !== undefined && { outputDimensionality: group.dimensions }),
      ...(group.taskType !== undefined && { taskType: group.taskType }),
    });
  };
}
