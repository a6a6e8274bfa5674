/**
 * An {@linkcode Embedder} backed by the Gemini API through the official
 * `@google/genai` SDK, aware of its model: token limit, how a task type is
 * expressed, media, and normalisation.
 *
 * @module
 */

import { ApiError, GoogleGenAI } from "@google/genai";
import type { EmbedContent, Embedder, EmbedInput, EmbedOptions } from "../embedder.ts";
import type { GeminiTaskType } from "./task_types.ts";
import {
  EmbeddingCountError,
  GeminiApiError,
  MissingApiKeyError,
  redactSecret,
} from "../errors.ts";
import { DEFAULT_MODEL, type ModelProfile, modelProfile } from "./models.ts";
import { normalize } from "./normalize.ts";
import { type PlannedRequest, plannedTokens, planRequest } from "./request.ts";
import { mediaParts } from "./_media.ts";
import type { FilesClient, Part } from "./parts.ts";

export type { EmbedContent, Embedder, EmbedInput, EmbedOptions };

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
      contents: { role: string; parts: Part[] }[];
      config: {
        outputDimensionality?: number;
        taskType?: string;
        title?: string;
        abortSignal?: AbortSignal;
      };
    }): Promise<{ embeddings?: { values?: number[] }[] }>;
  };
  /** The SDK's Files API, for media too large to send inline; absent means inline only. */
  readonly files?: FilesClient;
}

/** Options of {@linkcode GeminiEmbedder}. */
export interface GeminiEmbedderOptions {
  /**
   * The embedding model, with or without the `models/` prefix; its
   * {@linkcode ModelProfile} sets the token limit, how task types are sent,
   * and which media it takes.
   *
   * @default {"gemini-embedding-2"}
   */
  model?: string;
  /**
   * How many values each vector has; the model's full size when unset (3072).
   *
   * @default {undefined}
   */
  outputDimensionality?: number;
  /**
   * What the vectors will be used for, for inputs that name no task type of
   * their own. Sent as the `taskType` field to models that take it
   * (`gemini-embedding-001`), as Google's task instruction in the text to
   * `gemini-embedding-2`. Unset: texts are sent exactly as given.
   *
   * @default {undefined}
   */
  taskType?: GeminiTaskType;
  /**
   * Scale every vector to unit length. `gemini-embedding-2` already does at
   * every size, `gemini-embedding-001` only at 3072; `false` returns the
   * values exactly as the API sent them.
   *
   * @default {true}
   */
  normalize?: boolean;
  /**
   * The most tokens one input may cost (read by `ResilientEmbedder`); the
   * model's limit when unset (8,192 for gemini-embedding-2, 2,048 for 001).
   *
   * @default {undefined}
   */
  maxInputTokens?: number;
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
 * Embeds inputs with Gemini `batchEmbedContents` calls, one `Content` per
 * input: the SDK merges a plain string array into ONE content (one vector)
 * for gemini-embedding-2 models, so strings are never passed to it bare.
 *
 * The model's profile decides the rest: a task type is the `taskType` field
 * for gemini-embedding-001 (with `title` for `RETRIEVAL_DOCUMENT`), Google's
 * instruction in the text for gemini-embedding-2 (no field); media become
 * parts after the text (inline, or through the Files API when large, deleted
 * after the call); vectors are unit length unless `normalize: false`.
 *
 * Gemini accepts at most 100 inputs per call; larger batches are rejected by
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
 * assert.deepEqual(vectors, [
 *   simulatedEmbedding("red", 8, "gemini-embedding-2"),
 *   simulatedEmbedding("green", 8, "gemini-embedding-2"),
 * ]);
 * ```
 */
export class GeminiEmbedder implements Embedder {
  #client: GeminiClient;
  #model: string;
  #profile: ModelProfile;
  #dimensions: number | undefined;
  #taskType: GeminiTaskType | undefined;
  #normalize: boolean;
  #maxInputTokens: number;
  #apiKey: string | undefined;

  /**
   * Creates the embedder. No request is made until {@linkcode GeminiEmbedder.embed}.
   *
   * @param options The model, output size, task type, normalisation and connection.
   * @throws {MissingApiKeyError} If neither `apiKey`, `client` nor an
   * environment variable supplies a key.
   * @throws {RangeError} If `outputDimensionality` or `maxInputTokens` is not a positive integer.
   * @throws {TypeError} If `model` is empty.
   */
  constructor(options: GeminiEmbedderOptions = {}) {
    const { model = DEFAULT_MODEL, outputDimensionality, client } = options;
    if (model === "") {
      throw new TypeError("Cannot create GeminiEmbedder: model must not be empty");
    }
    for (
      const [name, value] of [["outputDimensionality", outputDimensionality], [
        "maxInputTokens",
        options.maxInputTokens,
      ]] as const
    ) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw new RangeError(
          `Cannot create GeminiEmbedder: ${name} must be a positive integer, received ${value}`,
        );
      }
    }
    this.#model = model;
    this.#profile = modelProfile(model);
    this.#dimensions = outputDimensionality;
    this.#taskType = options.taskType;
    this.#normalize = options.normalize ?? true;
    this.#maxInputTokens = options.maxInputTokens ?? this.#profile.maxInputTokens;
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

  /** The model's profile: limits, task intent, media, prices. */
  get profile(): ModelProfile {
    return this.#profile;
  }

  /** The most tokens one input may cost: `maxInputTokens`, else the model's limit. */
  get maxInputTokens(): number {
    return this.#maxInputTokens;
  }

  /**
   * The tokens `input` is estimated to cost as sent, task instruction and media included.
   *
   * @param input A text or content.
   * @returns The estimate.
   * @throws {TypeError} If the input cannot be sent to this model (see {@linkcode planRequest}).
   *
   * @example The instruction counts
   * ```ts
   * import { GeminiEmbedder } from "./embedder.ts";
   * import { estimateTokens } from "../resilience/tokens.ts";
   * import assert from "node:assert/strict";
   *
   * const embedder = new GeminiEmbedder({ apiKey: "k", taskType: "RETRIEVAL_QUERY" });
   * assert.ok(embedder.inputTokens("hi") > estimateTokens("hi"));
   * ```
   */
  inputTokens(input: EmbedInput): number {
    return plannedTokens(planRequest(this.#profile, input, this.#taskType));
  }

  /**
   * The request fields `input` is sent with, as a key: one SDK call carries
   * one set of fields for all its inputs.
   *
   * @param input A text or content.
   * @returns The key; `""` when no field is sent.
   *
   * @example Usage
   * ```ts
   * import { GeminiEmbedder } from "./embedder.ts";
   * import assert from "node:assert/strict";
   *
   * const v1 = new GeminiEmbedder({ apiKey: "k", model: "gemini-embedding-001", taskType: "RETRIEVAL_DOCUMENT" });
   * assert.notEqual(v1.callGroup({ text: "a", title: "A" }), v1.callGroup({ text: "b", title: "B" }));
   * const v2 = new GeminiEmbedder({ apiKey: "k", taskType: "RETRIEVAL_DOCUMENT" });
   * assert.equal(v2.callGroup({ text: "a", title: "A" }), v2.callGroup({ text: "b", title: "B" }));
   * ```
   */
  callGroup(input: EmbedInput): string {
    const { fields } = planRequest(this.#profile, input, this.#taskType);
    return fields.taskType === undefined ? "" : JSON.stringify([fields.taskType, fields.title]);
  }

  /**
   * Embeds `texts`, resolving with one vector per text in order.
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
  embed(texts: readonly string[], options: EmbedOptions = {}): Promise<number[][]> {
    return this.embedContents(texts, options);
  }

  /**
   * Embeds texts and contents, one vector per input in order. Inputs whose
   * request fields differ (001 document titles) go in separate SDK calls.
   *
   * @param inputs The inputs: at most 100.
   * @param options Cancellation.
   * @returns One vector per input.
   * @throws {GeminiApiError} If the API answers with an error status.
   * @throws {EmbeddingCountError} If the answer does not hold one vector per input.
   * @throws {TypeError} If an input names an unknown task type or media the model does not take.
   *
   * @example A text with a title, as a document
   * ```ts
   * import { GeminiEmbedder } from "./embedder.ts";
   * import { simulatedEmbedding, startSimulator } from "../simulator/server.ts";
   * import assert from "node:assert/strict";
   *
   * await using simulator = startSimulator();
   * const embedder = new GeminiEmbedder({ apiKey: "k", baseUrl: simulator.url, outputDimensionality: 4 });
   * const [vector] = await embedder.embedContents([
   *   { text: "Open Settings.", taskType: "RETRIEVAL_DOCUMENT", title: "Help" },
   * ]);
   * const sent = "title: Help | text: Open Settings.";
   * assert.deepEqual(vector, simulatedEmbedding(sent, 4, "gemini-embedding-2"));
   * ```
   */
  async embedContents(
    inputs: readonly EmbedInput[],
    options: EmbedOptions = {},
  ): Promise<number[][]> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (inputs.length === 0) return [];
    const plans = inputs.map((input) => planRequest(this.#profile, input, this.#taskType));
    const groups = new Map<string, number[]>();
    plans.forEach((plan, i) => {
      const { taskType, title } = plan.fields;
      // No field at all (the common case) needs no key built: "" is no JSON array.
      const key = taskType === undefined && title === undefined
        ? ""
        : JSON.stringify([taskType, title]);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [i]);
      else group.push(i);
    });
    const vectors = new Array<number[]>(inputs.length);
    for (const indices of groups.values()) {
      const got = await this.#call(indices.map((i) => plans[i]!), signal);
      indices.forEach((index, j) => vectors[index] = got[j]!);
    }
    return this.#normalize ? vectors.map(normalize) : vectors;
  }

  /** One SDK call for plans that share their fields. */
  async #call(plans: PlannedRequest[], signal: AbortSignal | undefined): Promise<number[][]> {
    // The SDK adds a listener to the signal it is given and keeps it after a
    // successful call, so a long-lived caller signal would gather one per
    // call. Each call gets its own signal instead, linked here and unlinked in
    // `finally`.
    const call = signal === undefined ? undefined : new AbortController();
    const onAbort = () => call?.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const uploads: string[] = [];
    let response: Awaited<ReturnType<GeminiClient["models"]["embedContent"]>>;
    try {
      const contents = [];
      for (const plan of plans) {
        const parts: Part[] = plan.text === "" ? [] : [{ text: plan.text }];
        if (plan.media.length > 0) {
          parts.push(
            ...await mediaParts(
              plan.media,
              this.#profile,
              this.#client.files,
              uploads,
              call?.signal,
            ),
          );
        }
        // One Content per input: given plain strings, the SDK merges them into
        // a single Content (one vector in all) for gemini-embedding-2 models.
        contents.push({ role: "user", parts });
      }
      const { taskType, title } = plans[0]!.fields;
      response = await this.#client.models.embedContent({
        model: this.#model,
        contents,
        config: {
          ...(this.#dimensions !== undefined && { outputDimensionality: this.#dimensions }),
          ...(taskType !== undefined && { taskType }),
          ...(title !== undefined && { title }),
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
      await this.#deleteUploads(uploads);
    }
    const embeddings = response.embeddings ?? [];
    const vectors = embeddings.flatMap(({ values }) => Array.isArray(values) ? [values] : []);
    if (embeddings.length !== plans.length || vectors.length !== plans.length) {
      throw new EmbeddingCountError(plans.length, vectors.length);
    }
    return vectors;
  }

  /** Deletes files uploaded for one call; a failure leaves them to expire (48 h). */
  async #deleteUploads(names: string[]): Promise<void> {
    const files = this.#client.files;
    if (files === undefined) return;
    await Promise.all(names.map((name) => files.delete({ name }).catch(() => {})));
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
