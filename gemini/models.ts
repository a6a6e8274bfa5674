/**
 * Model profiles: what each Gemini embedding model accepts and how it wants
 * to be asked, in one table that every stage reads (token budgeting, request
 * building, normalisation, the simulator, cost estimates, the Batch API).
 *
 * Facts are from Google's embeddings page (GA copy, "Latest update April
 * 2026"), its changelog and its pricing page; see `../shared` notes for the
 * sources and where they disagree.
 *
 * @module
 */

import type { GeminiTaskType } from "./task_types.ts";

/** The model Google recommends today, and embatch's default. */
export const DEFAULT_MODEL = "gemini-embedding-2";

/**
 * A model family: `gemini-embedding-2` (also `-preview` and any name that
 * contains it, as the SDK matches it), `gemini-embedding-001`, or a model this
 * table does not know.
 */
export type ModelFamily = "gemini-embedding-2" | "gemini-embedding-001" | "unknown";

/** A kind of media a multimodal model embeds. */
export type MediaKind = "image" | "pdf" | "audio" | "video";

/** What one model accepts of one kind of media, per content (one vector). */
export interface MediaLimit {
  /** The MIME types embatch sends for this kind (from the file extension). */
  mimeTypes: readonly string[];
  /** The most files of this kind in one content. */
  maxPerContent: number;
  /** The longest audio or video, in seconds; unset for images and PDFs. */
  maxSeconds?: number;
  /** The most pages of a PDF; unset for other kinds. */
  maxPages?: number;
  /**
   * The largest file sent inline (base64 in the request); larger ones go
   * through the Files API. Google allows 100 MB inline per request (50 MB for
   * PDFs) and recommends the Files API above 20 MB: embatch uses 20 MB.
   */
  maxInlineBytes: number;
}

/** Prices in US dollars per million input tokens, paid tier, with where and when they were read. */
export interface ModelPrice {
  /** Text, online (`batchEmbedContents`). */
  text: number;
  /** Text through the Batch API; `undefined` where the Batch API does not serve the model. */
  batchText: number | undefined;
  /** Images, audio and video online, where the model takes them. */
  media?: { image: number; audio: number; video: number };
  /** The date the prices were read (ISO 8601). */
  asOf: string;
  /** Where they were read, and how sure they are. */
  source: string;
}

/** Everything embatch needs to know about one embedding model. */
export interface ModelProfile {
  /** The model name as given (without a `models/` prefix). */
  model: string;
  /** The family whose facts apply. */
  family: ModelFamily;
  /** The most input tokens per content; longer texts are refused or truncated. */
  maxInputTokens: number;
  /**
   * How a task type reaches the model: `"field"` sends `taskType` (and
   * `title`) request fields; `"instruction"` writes Google's task
   * instruction into the text and sends no field.
   */
  taskIntent: "field" | "instruction";
  /** Whether vectors below the default size come back already unit length. */
  normalizesReducedDimensions: boolean;
  /** The vector size when none is asked for. */
  defaultDimensions: number;
  /** The smallest and largest vector size the model allows. */
  dimensionRange: readonly [min: number, max: number];
  /** Vector sizes Google recommends. */
  recommendedDimensions: readonly number[];
  /** Media the model embeds, by kind; empty for text-only models. */
  media: Readonly<Partial<Record<MediaKind, MediaLimit>>>;
  /** The largest request body Google accepts with inline data, in bytes. */
  maxRequestBytes: number;
  /** The largest file the Files API takes, in bytes. */
  maxFileBytes: number;
  /** Prices, or `undefined` for an unknown model. */
  price: ModelPrice | undefined;
  /** A one-line notice to show the user (set for unknown models), else `undefined`. */
  notice: string | undefined;
}

const MB = 1024 * 1024;
const PRICE_SOURCE = "https://ai.google.dev/gemini-api/docs/pricing";

const V2: Omit<ModelProfile, "model"> = {
  family: "gemini-embedding-2",
  maxInputTokens: 8192,
  taskIntent: "instruction",
  normalizesReducedDimensions: true,
  defaultDimensions: 3072,
  dimensionRange: [128, 3072],
  recommendedDimensions: [768, 1536, 3072],
  media: {
    image: { mimeTypes: ["image/png", "image/jpeg"], maxPerContent: 6, maxInlineBytes: 20 * MB },
    // Google's pages say 6 pages per PDF; Vertex's card says one PDF per prompt.
    pdf: { mimeTypes: ["application/pdf"], maxPerContent: 1, maxPages: 6, maxInlineBytes: 20 * MB },
    // 180 s on the GA page (older copies said 80 s); one file per prompt on Vertex.
    audio: {
      mimeTypes: ["audio/mpeg", "audio/wav"],
      maxPerContent: 1,
      maxSeconds: 180,
      maxInlineBytes: 20 * MB,
    },
    // 120 s, at most 32 frames sampled, audio track not processed.
    video: {
      mimeTypes: ["video/mp4", "video/quicktime"],
      maxPerContent: 1,
      maxSeconds: 120,
      maxInlineBytes: 20 * MB,
    },
  },
  maxRequestBytes: 100 * MB,
  maxFileBytes: 2048 * MB,
  price: {
    text: 0.20,
    // 50% of online ("Batch API … at 50% of the default Embedding price");
    // the GA batch rows themselves were reported by third parties.
    batchText: 0.10,
    media: { image: 0.45, audio: 6.50, video: 12.00 },
    asOf: "2026-11-28",
    source: `${PRICE_SOURCE} (online rows; batch = 50% per the embeddings page)`,
  },
  notice: undefined,
};

const V001: Omit<ModelProfile, "model"> = {
  family: "gemini-embedding-001",
  maxInputTokens: 2048,
  taskIntent: "field",
  normalizesReducedDimensions: false,
  defaultDimensions: 3072,
  dimensionRange: [128, 3072],
  recommendedDimensions: [768, 1536, 3072],
  media: {},
  maxRequestBytes: 100 * MB,
  maxFileBytes: 2048 * MB,
  price: {
    text: 0.15,
    batchText: 0.075, // 50% of online by the Batch API rule; the row itself was not seen
    asOf: "2026-11-28",
    source: `${PRICE_SOURCE} (online row; batch = 50% per the embeddings page)`,
  },
  notice: undefined,
};

/**
 * The known families' profiles, keyed by family. {@linkcode modelProfile}
 * picks one by model name.
 *
 * @example Usage
 * ```ts
 * import { MODEL_PROFILES } from "./models.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(MODEL_PROFILES["gemini-embedding-2"].maxInputTokens, 8192);
 * assert.equal(MODEL_PROFILES["gemini-embedding-001"].taskIntent, "field");
 * ```
 */
export const MODEL_PROFILES: Readonly<
  Record<Exclude<ModelFamily, "unknown">, ModelProfile>
> = {
  "gemini-embedding-2": { model: "gemini-embedding-2", ...V2 },
  "gemini-embedding-001": { model: "gemini-embedding-001", ...V001 },
};

/**
 * The profile for a model name, with or without the `models/` prefix.
 *
 * A name containing `gemini-embedding-2` (as `-2-preview` does) is that
 * family: the SDK matches it the same way. An unknown name gets conservative
 * limits (2,048 tokens, text only, task type as a field, vectors normalised
 * on the client) and a one-line `notice` to show the user.
 *
 * @param name The model name.
 * @returns Its profile.
 * @throws {TypeError} If `name` is empty.
 *
 * @example Known and unknown models
 * ```ts
 * import { modelProfile } from "./models.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(modelProfile("models/gemini-embedding-2-preview").family, "gemini-embedding-2");
 * assert.equal(modelProfile("gemini-embedding-001").maxInputTokens, 2048);
 * const unknown = modelProfile("my-tuned-embedder");
 * assert.equal(unknown.family, "unknown");
 * assert.equal(unknown.maxInputTokens, 2048);
 * assert.match(unknown.notice!, /unknown model/);
 * ```
 */
export function modelProfile(name: string): ModelProfile {
  const model = name.startsWith("models/") ? name.slice("models/".length) : name;
  if (model === "") {
    throw new TypeError(`Cannot look up model: the name is empty, received "${name}"`);
  }
  if (model.includes("gemini-embedding-2")) return { ...V2, model };
  if (model.includes("gemini-embedding-001")) return { ...V001, model };
  return {
    ...V001,
    model,
    family: "unknown",
    price: undefined,
    notice:
      `embatch: unknown model ${model}: assuming 2,048 input tokens per text, text only, task type as a field (set --max-input-tokens to change the limit)`,
  };
}

/** What to send for one input: its text, and the request fields the model takes. */
export interface TaskRequest {
  /** The text to embed, with the task instruction where the model wants one. */
  text: string;
  /** The `taskType` field, for models that take it. */
  taskType?: GeminiTaskType;
  /** The `title` field, for models that take it (with `RETRIEVAL_DOCUMENT` only). */
  title?: string;
}

// Google's documented instructions for gemini-embedding-2 ("Task types with
// Embeddings 2"), word for word: " | " with a space each side.
const QUERY_TASKS: Readonly<Record<Exclude<GeminiTaskType, "RETRIEVAL_DOCUMENT">, string>> = {
  RETRIEVAL_QUERY: "search result",
  QUESTION_ANSWERING: "question answering",
  FACT_VERIFICATION: "fact checking",
  CODE_RETRIEVAL_QUERY: "code retrieval",
  CLASSIFICATION: "classification",
  CLUSTERING: "clustering",
  SEMANTIC_SIMILARITY: "sentence similarity",
};

/**
 * Expresses a task type the way `profile`'s model wants it.
 *
 * - No `taskType`: the text exactly as given, no field.
 * - Models that take the field (`gemini-embedding-001`): the text unchanged
 *   with `taskType`, plus `title` only for `RETRIEVAL_DOCUMENT` with a title.
 * - `gemini-embedding-2`: no field; the text gets Google's instruction,
 *   `task: search result | query: {text}` (and the like) for queries and
 *   symmetric tasks, `title: {title} | text: {text}` for documents, with
 *   `title: none` when there is no title.
 *
 * @param profile The model's profile.
 * @param text The input text.
 * @param taskType The task type, if any.
 * @param title The document's title, if any; used with `RETRIEVAL_DOCUMENT` only.
 * @returns The text to send and the fields to set.
 *
 * @example Both models
 * ```ts
 * import { applyTask, modelProfile } from "./models.ts";
 * import assert from "node:assert/strict";
 *
 * const v2 = modelProfile("gemini-embedding-2");
 * assert.deepEqual(applyTask(v2, "how do I reset it?", "RETRIEVAL_QUERY"), {
 *   text: "task: search result | query: how do I reset it?",
 * });
 * assert.deepEqual(applyTask(v2, "Open Settings.", "RETRIEVAL_DOCUMENT"), {
 *   text: "title: none | text: Open Settings.",
 * });
 * const v1 = modelProfile("gemini-embedding-001");
 * assert.deepEqual(applyTask(v1, "Open Settings.", "RETRIEVAL_DOCUMENT", "Help"), {
 *   text: "Open Settings.",
 *   taskType: "RETRIEVAL_DOCUMENT",
 *   title: "Help",
 * });
 * assert.deepEqual(applyTask(v2, "as is", undefined), { text: "as is" });
 * ```
 */
export function applyTask(
  profile: ModelProfile,
  text: string,
  taskType: GeminiTaskType | undefined,
  title?: string,
): TaskRequest {
  if (taskType === undefined) return { text };
  if (profile.taskIntent === "field") {
    const withTitle = taskType === "RETRIEVAL_DOCUMENT" && title !== undefined && title !== "";
    return { text, taskType, ...(withTitle && { title }) };
  }
  if (taskType === "RETRIEVAL_DOCUMENT") {
    return {
      text: `title: ${title === undefined || title === "" ? "none" : title} | text: ${text}`,
    };
  }
  return { text: `task: ${QUERY_TASKS[taskType]} | query: ${text}` };
}

/**
 * Checks a requested vector size against the model's range.
 *
 * @param profile The model's profile.
 * @param dimensions The size asked for, or `undefined` for the default.
 * @returns The size the vectors will have.
 * @throws {RangeError} If `dimensions` is not an integer within the model's range.
 *
 * @example Usage
 * ```ts
 * import { checkDimensions, modelProfile } from "./models.ts";
 * import assert from "node:assert/strict";
 *
 * const profile = modelProfile("gemini-embedding-2");
 * assert.equal(checkDimensions(profile, 768), 768);
 * assert.equal(checkDimensions(profile, undefined), 3072);
 * assert.throws(() => checkDimensions(profile, 64), RangeError);
 * ```
 */
export function checkDimensions(profile: ModelProfile, dimensions: number | undefined): number {
  if (dimensions === undefined) return profile.defaultDimensions;
  const [min, max] = profile.dimensionRange;
  if (!Number.isInteger(dimensions) || dimensions < min || dimensions > max) {
    throw new RangeError(
      `Invalid dimensions for ${profile.model}: expected an integer from ${min} to ${max}, received ${dimensions}`,
    );
  }
  return dimensions;
}

/** A file type embatch recognises by extension. */
export interface MediaType {
  /** The MIME type sent with the file. */
  mimeType: string;
  /** Its kind, which picks the model's limits. */
  kind: MediaKind;
}

const EXTENSIONS: Readonly<Record<string, MediaType>> = {
  png: { mimeType: "image/png", kind: "image" },
  jpg: { mimeType: "image/jpeg", kind: "image" },
  jpeg: { mimeType: "image/jpeg", kind: "image" },
  pdf: { mimeType: "application/pdf", kind: "pdf" },
  mp3: { mimeType: "audio/mpeg", kind: "audio" },
  wav: { mimeType: "audio/wav", kind: "audio" },
  mp4: { mimeType: "video/mp4", kind: "video" },
  mov: { mimeType: "video/quicktime", kind: "video" },
};

/**
 * The media type of a file, from its extension (case-insensitive): PNG,
 * JPEG, PDF, MP3, WAV, MP4 or MOV.
 *
 * @param path The file's path or name.
 * @returns Its MIME type and kind, or `undefined` for any other extension.
 *
 * @example Usage
 * ```ts
 * import { mediaType } from "./models.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(mediaType("scans/page.PDF"), { mimeType: "application/pdf", kind: "pdf" });
 * assert.equal(mediaType("notes.txt"), undefined);
 * ```
 */
export function mediaType(path: string): MediaType | undefined {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return undefined;
  return EXTENSIONS[name.slice(dot + 1).toLowerCase()];
}
