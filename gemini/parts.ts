/**
 * The request parts and the Files API surface `GeminiEmbedder`
 * works with, as the `@google/genai` SDK types them.
 *
 * @module
 */

/**
 * A request part, as the SDK takes it: text, inline bytes (base64), or a
 * file uploaded through the Files API.
 *
 * @example Usage
 * ```ts
 * import type { Part } from "./parts.ts";
 * import assert from "node:assert/strict";
 *
 * const parts: Part[] = [{ text: "a caption" }, { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } }];
 * assert.equal(parts.length, 2);
 * ```
 */
export type Part =
  | { text: string }
  | { inlineData: { mimeType: string; data: string } }
  | { fileData: { mimeType: string; fileUri: string } };

/** A file as the Files API describes it. */
export interface UploadedFile {
  /** `files/…`, for `get` and `delete`. */
  name?: string;
  /** The URI to reference in `fileData`. */
  uri?: string;
  /** `PROCESSING`, `ACTIVE` or `FAILED`. */
  state?: string;
}

/** The part of the SDK's `ai.files` that embatch uses. */
export interface FilesClient {
  /** Uploads a file. */
  upload(
    params: { file: Blob; config?: { mimeType?: string; abortSignal?: AbortSignal } },
  ): Promise<UploadedFile>;
  /** Reads a file's state. */
  get(params: { name: string }): Promise<UploadedFile>;
  /** Deletes a file. */
  delete(params: { name: string }): Promise<unknown>;
}
