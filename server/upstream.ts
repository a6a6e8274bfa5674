/**
 * What the server sends texts to: one {@linkcode Embedder} per group of texts
 * that can share a call (same model, dimensions, task type and title).
 *
 * @module
 */

import { GoogleGenAI } from "@google/genai";
import type { Embedder, EmbedInput } from "../embedder.ts";
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
  /**
   * Scale every vector to unit length, as corpus runs do (`--no-normalize`
   * turns it off and answers the values exactly as the API sent them).
   *
   * @default {true}
   */
  normalize?: boolean;
}

/**
 * Sends each group's texts to Gemini through one shared `@google/genai`
 * client, as `batchEmbedContents` calls for the group's model and dimensions,
 * with its task type and title expressed the way the model wants them, as
 * everywhere in embatch: the `taskType` (and, for documents, `title`) fields
 * for gemini-embedding-001, Google's task instruction in the text for
 * gemini-embedding-2, which ignores the fields. Vectors are unit length unless
 * `normalize` is `false`.
 *
 * @param options The server's API key, where the API is, and normalisation.
 * @returns A factory of one embedder per group.
 * @throws {TypeError} If `apiKey` is empty.
 *
 * @example A query to gemini-embedding-2 travels as Google's instruction
 * ```ts
 * import { geminiUpstream } from "./upstream.ts";
 * import { simulatedEmbedding, startSimulator } from "../simulator/mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const upstream = geminiUpstream({ apiKey: "server-key", baseUrl: simulator.url });
 * const embedder = upstream({ model: "gemini-embedding-2", dimensions: 4, taskType: "RETRIEVAL_QUERY" });
 * assert.deepEqual(await embedder.embed(["hi"]), [
 *   simulatedEmbedding("task: search result | query: hi", 4, "gemini-embedding-2"),
 * ]);
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
    const embedder = new GeminiEmbedder({
      client: sdk,
      apiKey: options.apiKey, // only to redact it from error messages
      model: group.model,
      normalize: options.normalize ?? true,
      ...(group.taskType !== undefined && { taskType: group.taskType }),
      ...(group.dimensions !== undefined && { outputDimensionality: group.dimensions }),
    });
    return group.title === undefined ? embedder : withTitle(embedder, group.title);
  };
}

/** The group's embedder with every text sent as a content carrying the group's title. */
function withTitle(embedder: GeminiEmbedder, title: string): Embedder {
  const titled = (input: EmbedInput): EmbedInput =>
    typeof input === "string" ? { text: input, title } : { title, ...input };
  return {
    maxInputTokens: embedder.maxInputTokens,
    embed: (texts, embedOptions) => embedder.embedContents(texts.map(titled), embedOptions),
    embedContents: (inputs, embedOptions) =>
      embedder.embedContents(inputs.map(titled), embedOptions),
    inputTokens: (input) => embedder.inputTokens(titled(input)),
    callGroup: (input) => embedder.callGroup(titled(input)),
  };
}
