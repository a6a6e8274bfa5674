/**
 * The cache key: a SHA-256 of everything that determines a vector.
 *
 * @module
 */

import type { EmbedInput } from "../embedder.ts";
import { sha256 } from "./_sha256.ts";

/**
 * What determines an embedding besides its text: the same text under another
 * model, size, task type or title is another vector, so another key.
 */
export interface CacheKeyContext {
  /** The embedding model; a leading `models/` is ignored (`"models/x"` and `"x"` are one model). */
  model: string;
  /**
   * The output dimensionality asked for; unset when the model's default was
   * used (a different key from asking for the default size explicitly).
   *
   * @default {undefined}
   */
  dimensions?: number;
  /**
   * The task type, such as `"RETRIEVAL_DOCUMENT"`; unset for the API's default.
   *
   * @default {undefined}
   */
  taskType?: string;
  /**
   * The document title (Gemini uses it with `RETRIEVAL_DOCUMENT`); unset for none.
   *
   * @default {undefined}
   */
  title?: string;
}

/** Marks the key format: bump it if the way a key is built ever changes. */
const KEY_VERSION = "embatch-cache-key-v1";

/**
 * Computes the 32-byte cache key of `text` under `context`.
 *
 * The fields are hashed as one JSON array, so no choice of texts can make two
 * different field lists hash the same input (a separator character inside a
 * title cannot shift a field boundary); an unset field is `null`, distinct
 * from the empty string.
 *
 * @param context The model, dimensions, task type and title.
 * @param text The exact text embedded.
 * @returns The SHA-256 digest, 32 bytes.
 *
 * @example Every field changes the key; a `models/` prefix does not
 * ```ts
 * import { cacheKey } from "./key.ts";
 * import assert from "node:assert/strict";
 *
 * const hex = (key: Uint8Array) => Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");
 * const base = hex(cacheKey({ model: "gemini-embedding-001", dimensions: 768 }, "hello"));
 * assert.equal(base.length, 64);
 * assert.equal(hex(cacheKey({ model: "models/gemini-embedding-001", dimensions: 768 }, "hello")), base);
 * assert.notEqual(hex(cacheKey({ model: "gemini-embedding-001", dimensions: 3072 }, "hello")), base);
 * assert.notEqual(hex(cacheKey({ model: "gemini-embedding-001", dimensions: 768 }, "hello ")), base);
 * ```
 */
export function cacheKey(context: CacheKeyContext, text: string): Uint8Array {
  const fields = [
    KEY_VERSION,
    context.model.replace(/^models\//, ""),
    context.dimensions ?? null,
    context.taskType ?? null,
    context.title ?? null,
    text,
  ];
  return sha256(JSON.stringify(fields));
}

/**
 * Computes the cache key of an embedder input: a text under `context`, or a
 * content's text under `context` with the content's own task type and title
 * in place of the context's. A content with media has no key (`undefined`):
 * media is not cached.
 *
 * @param context The model, dimensions, and the default task type and title.
 * @param input A text or a content.
 * @returns The 32-byte key, or `undefined` for a content with media.
 *
 * @example Usage
 * ```ts
 * import { cacheKey, inputKey } from "./key.ts";
 * import assert from "node:assert/strict";
 *
 * const context = { model: "gemini-embedding-001" };
 * assert.deepEqual(inputKey(context, "hi"), cacheKey(context, "hi"));
 * assert.deepEqual(
 *   inputKey(context, { text: "body", title: "Guide" }),
 *   cacheKey({ ...context, title: "Guide" }, "body"),
 * );
 * const image = {
 *   mimeType: "image/png",
 *   size: 3,
 *   tokens: 258,
 *   name: "a.png",
 *   read: () => Promise.resolve(new Uint8Array(3)),
 * };
 * assert.equal(inputKey(context, { text: "caption", media: [image] }), undefined);
 * ```
 */
export function inputKey(context: CacheKeyContext, input: EmbedInput): Uint8Array | undefined {
  if (typeof input === "string") return cacheKey(context, input);
  if (input.media !== undefined && input.media.length > 0) return undefined;
  return cacheKey({
    ...context,
    ...(input.taskType !== undefined && { taskType: input.taskType }),
    ...(input.title !== undefined && { title: input.title }),
  }, input.text ?? "");
}

/**
 * Writes a cache key as 64 lowercase hexadecimal digits.
 *
 * @param key A key from {@linkcode cacheKey}.
 * @returns The key in hexadecimal.
 *
 * @example Usage
 * ```ts
 * import { keyToHex } from "./key.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(keyToHex(new Uint8Array([0, 15, 255])), "000fff");
 * ```
 */
export function keyToHex(key: Uint8Array): string {
  let hex = "";
  for (const byte of key) hex += HEX[byte]!;
  return hex;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
