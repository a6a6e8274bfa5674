/**
 * The contract between the pipeline and whatever turns inputs into vectors.
 *
 * @module
 */

/** Options accepted by {@linkcode Embedder.embed}. */
export interface EmbedOptions {
  /** Cancels the call; an aborted call rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * One media file of an {@linkcode EmbedContent}: its type, its size and how
 * to read it. The bytes are read only when the call is made, so a queue of
 * inputs does not hold every file in memory.
 */
export interface EmbedMedia {
  /** The MIME type, such as `"image/png"` or `"application/pdf"`. */
  mimeType: string;
  /** The file's size in bytes. */
  size: number;
  /** The estimated tokens it costs, counted with the text against limits and quotas. */
  tokens: number;
  /** A name for messages, such as the file's path. */
  name: string;
  /** Reads the bytes (once per attempt). */
  read(): Promise<Uint8Array>;
}

/**
 * An input that is more than a bare text: a text with a task type or title,
 * and media, all embedded together as ONE vector.
 *
 * `taskType` and `title` say what the vector is for; the embedder expresses
 * them the way its model wants (a request field, or an instruction in the
 * text).
 */
export interface EmbedContent {
  /** The text; with media it is sent first, before the files. */
  text?: string;
  /** What the vector will be used for, such as `"RETRIEVAL_QUERY"`. */
  taskType?: string;
  /** The document's title (with a document task type). */
  title?: string;
  /** Media embedded together with the text, in order. */
  media?: readonly EmbedMedia[];
}

/** One input: a text, or an {@linkcode EmbedContent}. Each gets exactly one vector. */
export type EmbedInput = string | EmbedContent;

/**
 * The text of an input: the string itself, or the content's `text` (`""` if none).
 *
 * @param input The input.
 * @returns Its text.
 *
 * @example Usage
 * ```ts
 * import { inputText } from "./embedder.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(inputText("hello"), "hello");
 * assert.equal(inputText({ text: "caption", taskType: "RETRIEVAL_DOCUMENT" }), "caption");
 * assert.equal(inputText({ media: [] }), "");
 * ```
 */
export function inputText(input: EmbedInput): string {
  return typeof input === "string" ? input : input.text ?? "";
}

/**
 * Turns a batch of texts into one vector per text, in the same order.
 *
 * Implementations must either resolve with exactly `texts.length` vectors,
 * the `i`-th belonging to `texts[i]`, or reject: a misaligned vector must
 * never be returned.
 *
 * The optional members are for embedders that know their model: one that
 * takes {@linkcode EmbedContent}s (a task type, a title, media) implements
 * `embedContents`, and a wrapper such as `ResilientEmbedder` budgets exactly
 * what is sent with the model's token limit, the tokens an input really costs
 * (a task instruction the embedder adds counts too), and which inputs may
 * share one call.
 *
 * @example Usage
 * ```ts
 * import type { Embedder } from "./embedder.ts";
 * import assert from "node:assert/strict";
 *
 * const lengths: Embedder = {
 *   embed(texts) {
 *     return Promise.resolve(texts.map((text) => [text.length]));
 *   },
 * };
 * assert.deepEqual(await lengths.embed(["a", "bcd"]), [[1], [3]]);
 * ```
 */
export interface Embedder {
  /**
   * Embeds `texts`, resolving with one vector per text in input order.
   *
   * @param texts The texts to embed.
   * @param options Cancellation.
   * @returns One vector per text.
   */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<number[][]>;
  /**
   * Embeds texts and contents, one vector per input in input order; when
   * absent, only plain texts can be embedded.
   *
   * @param inputs The inputs to embed.
   * @param options Cancellation.
   * @returns One vector per input.
   */
  embedContents?(inputs: readonly EmbedInput[], options?: EmbedOptions): Promise<number[][]>;
  /** The most tokens one input may cost, when the embedder's model has a limit. */
  readonly maxInputTokens?: number;
  /**
   * The estimated tokens `input` costs as sent, instruction and media included.
   *
   * @param input The input, as it will be given to the embedder.
   * @returns The estimated tokens.
   */
  inputTokens?(input: EmbedInput): number;
  /**
   * A key that inputs sent in one call must share (say, the request fields a
   * call applies to all its inputs); inputs with different keys go in
   * different calls.
   *
   * @param input The input.
   * @returns The key.
   */
  callGroup?(input: EmbedInput): string;
}
