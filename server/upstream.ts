/**
 * What the server sends texts to: one {@linkcode Embedder} per group of texts
 * that can share a call (same model, dimensions, task type and title).
 *
 * @module
 */

import { GoogleGenAI } from "@google/genai";
import type { Embedder } from "../embedder.ts";
import { type GeminiClient, GeminiEmbedder } from "../gemini/embedder.ts";
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
 * dimensions, task type and title exactly as the client sent them: texts are
 * not rewritten and vectors are not renormalised, so they equal what a direct
 * call returns.
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
    // The client's fields go upstream exactly as sent: a transparent proxy
    // gives the vectors a direct call would (GeminiEmbedder's own taskType
    // option would rewrite gemini-embedding-2 texts with a task instruction).
    const fields = {
      ...(group.taskType !== undefined && { taskType: group.taskType }),
      ...(group.title !== undefined && { title: group.title }),
    };
    const client: GeminiClient = Object.keys(fields).length === 0 ? sdk : {
      models: {
        embedContent: (params) =>
          sdk.models.embedContent({ ...params, config: { ...params.config, ...fields } }),
      },
    };
    return new GeminiEmbedder({
      client,
      apiKey: options.apiKey, // only to redact it from error messages
      model: group.model,
      normalize: false, // the values exactly as the API sent them
      ...(group.dimensions !== undefined && { outputDimensionality: group.dimensions }),
    });
  };
}
