/**
 * An {@linkcode Embedder} backed by the Gemini API through the official
 * `@google/genai` SDK.
 *
 * @module
 */

import { ApiError, GoogleGenAI } from "@google/genai";
import type { Embedder, EmbedOptions } from "../embedder.ts";
import type { GeminiTaskType } from "./task_types.ts";
import {
  EmbeddingCountError,
  GeminiApiError,
  MissingApiKeyError,
  redactSecret,
} from "../errors.ts";

export type { Embedder, EmbedOptions };

/**
 * The part of a `GoogleGenAI` client that {@linkcode GeminiEmbedder} uses, so
 * that any SDK client (or a stand-in) can be passed as
 * {@linkcode GeminiEmbedderOptions.client}.
 */
export interface GeminiClient {
  /** The SDK's models API; only `embedContent` is called. */
  readonly models: {
    embedContent(params: {
      model: string;
      contents: { role: string; parts: { text: string }[] }[];
      config: { outputDimensionality?: number; taskType?: string; abortSignal?: AbortSignal };
    }): Promise<{ embeddings?: { values?: number[] }[] }>;
  };
}

/** Options of {@linkcode GeminiEmbedder}. */
export interface GeminiEmbedderOptions {
  /**
   * The embedding model, with or without the `models/` prefix.
   *
   * @default {"gemini-embedding-001"}
   */
  model?: string;
  /**
   * How many values each vector has; the model's full size when unset (3072
   * for `gemini-embedding-001`).
   *
   * @default {undefined}
   */
  outputDimensionality?: number;
  /**
   * What the vectors will be used for; Gemini's default when unset.
   *
   * @default {undefined}
   */
  taskType?: GeminiTaskType;
  /**
   * The API's base URL, such as a local simulator's. When unset, the SDK reads
   * the `GOOGLE_GEMINI_BASE_URL` environment variable, else uses Google's.
   * Ignored when `client` is given.
   *
   * @default {undefined}
   */
  baseUrl?: string;
  /**
   * The Gemini API key. When unset, the `GOOGLE_API_KEY` environment variable
   * is used, else `GEMINI_API_KEY` (the SDK's own order). When `client` is
   * given, it is used only to redact the key from error messages.
   *
   * @default {undefined}
   */
  apiKey?: string;
  /**
   * The API version, such as `"v1beta"`; the SDK's default when unset
   * (`"v1"` in `@google/genai` 3.3.0). Ignored when `client` is given.
   *
   * @default {undefined}
   */
  apiVersion?: string;
  /**
   * An SDK client (a `GoogleGenAI`) to use instead of creating one; no API
   * key is then required.
   *
   * @default {undefined}
   */
  client?: GeminiClient;
}

/**
 * Embeds texts with one Gemini `batchEmbedContents` call per
 * {@linkcode GeminiEmbedder.embed} call.
 *
 * Gemini accepts at most 100 texts per call; larger batches are rejected by
 * the API with a {@linkcode GeminiApiError}, so batch upstream. The SDK's own
 * retries are left off: retrying is the caller's decision.
 *
 * @example Embedding against a local simulator
 * ```ts
 * import { GeminiEmbedder } from "./embedder.ts";
 * import { simulatedEmbedding, startSimulator } from "../simulator/server.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const embedder = new GeminiEmbedder({
 *   apiKey: "any",
 *   baseUrl: simulator.url,
 *   outputDimensionality: 8,
 * });
 * const vectors = await embedder.embed(["red", "green"]);
 * assert.deepEqual(vectors, [simulatedEmbedding("red", 8), simulatedEmbedding("green", 8)]);
 * ```
 */
export class GeminiEmbedder implements Embedder {
  #client: GeminiClient;
  #model: string;
  #config: { outputDimensionality?: number; taskType?: GeminiTaskType };
  #apiKey: string | undefined;

  /**
   * Creates the embedder. No request is made until {@linkcode GeminiEmbedder.embed}.
   *
   * @param options The model, output size, task type and connection.
   * @throws {MissingApiKeyError} If neither `apiKey`, `client` nor an
   * environment variable supplies a key.
   * @throws {RangeError} If `outputDimensionality` is not a positive integer.
   * @throws {TypeError} If `model` is empty.
   */
  constructor(options: GeminiEmbedderOptions = {}) {
    const { model = "gemini-embedding-001", outputDimensionality, taskType, client } = options;
    if (model === "") {
      throw new TypeError("Cannot create GeminiEmbedder: model must not be empty");
    }
    if (
      outputDimensionality !== undefined &&
      (!Number.isInteger(outputDimensionality) || outputDimensionality < 1)
    ) {
      throw new RangeError(
        `Cannot create GeminiEmbedder: outputDimensionality must be a positive integer, received ${outputDimensionality}`,
      );
    }
    this.#model = model;
    this.#config = {
      ...(outputDimensionality !== undefined && { outputDimensionality }),
      ...(taskType !== undefined && { taskType }),
    };
    if (client !== undefined) {
      this.#client = client;
      this.#apiKey = options.apiKey;
      return;
    }
    const apiKey = options.apiKey ?? envKey("GOOGLE_API_KEY") ?? envKey("GEMINI_API_KEY");
    if (apiKey === undefined || apiKey === "") throw new MissingApiKeyError();
    this.#apiKey = apiKey;
    this.#client = new GoogleGenAI({
      apiKey,
      // This class speaks the Gemini Developer API only; without this the SDK
      // switches to Vertex AI when GOOGLE_GENAI_USE_VERTEXAI is set.
      vertexai: false,
      ...(options.apiVersion !== undefined && { apiVersion: options.apiVersion }),
      ...(options.baseUrl !== undefined && { httpOptions: { baseUrl: options.baseUrl } }),
    });
  }

  /**
   * Embeds `texts` in one call, resolving with one vector per text in order.
   *
   * @param texts The texts to embed: at most 100, none empty.
   * @param options Cancellation.
   * @returns One vector per text; `[]` for no texts, without a call.
   * @throws {GeminiApiError} If the API answers with an error status.
   * @throws {EmbeddingCountError} If the answer does not hold exactly one
   * vector per text.
   *
   * @example Cancelling
   * ```ts
   * import { GeminiEmbedder } from "./embedder.ts";
   * import assert from "node:assert/strict";
   *
   * const embedder = new GeminiEmbedder({ apiKey: "any", baseUrl: "http://127.0.0.1:9" });
   * const reason = new Error("stop");
   * await assert.rejects(
   *   embedder.embed(["never sent"], { signal: AbortSignal.abort(reason) }),
   *   (error) => error === reason,
   * );
   * assert.deepEqual(await embedder.embed([]), []);
   * ```
   */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (texts.length === 0) return [];
    // The SDK adds a listener to the signal it is given and keeps it after a
    // successful call, so a long-lived caller signal would gather one per
    // call. Each call gets its own signal instead, linked here and unlinked in
    // `finally`.
    const call = signal === undefined ? undefined : new AbortController();
    const onAbort = () => call?.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let response: Awaited<ReturnType<GeminiClient["models"]["embedContent"]>>;
    try {
      response = await this.#client.models.embedContent({
        model: this.#model,
        // One Content per text: given plain strings, the SDK merges them into
        // a single Content (one vector in all) for gemini-embedding-2 models.
        contents: texts.map((text) => ({ role: "user", parts: [{ text }] })),
        config: {
          ...this.#config,
          ...(call !== undefined && { abortSignal: call.signal }),
        },
      });
    } catch (error) {
      // The SDK aborts fetch without the reason, so fetch rejects with a
      // generic AbortError; the caller is owed `signal.reason`.
      if (signal?.aborted) throw signal.reason;
      throw this.#redacted(error);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    const embeddings = response.embeddings ?? [];
    const vectors = embeddings.flatMap(({ values }) => Array.isArray(values) ? [values] : []);
    if (embeddings.length !== texts.length || vectors.length !== texts.length) {
      throw new EmbeddingCountError(texts.length, vectors.length);
    }
    return vectors;
  }

  /** Turns an SDK error into the error to throw, with the API key removed. */
  #redacted(error: unknown): unknown {
    if (error instanceof ApiError) {
      const body = redactSecret(error.message, this.#apiKey);
      // Keep the SDK's error as the cause only if it holds no secret.
      const cause = body === error.message
        ? error
        : new ApiError({ message: body, status: error.status });
      return GeminiApiError.fromBody(error.status, body, { cause });
    }
    if (error instanceof Error && redactSecret(error.message, this.#apiKey) !== error.message) {
      const safe = new Error(redactSecret(error.message, this.#apiKey));
      safe.name = error.name;
      return safe;
    }
    return error;
  }
}

/** Reads an environment variable, treating blank as unset (as the SDK does). */
function envKey(name: string): string | undefined {
  const value = Deno.env.get(name)?.trim();
  return value === "" ? undefined : value;
}
