/**
 * Media as request parts: small files inline (base64), large ones uploaded
 * through the Files API (the caller deletes them after the call).
 *
 * @module
 */

import type { EmbedMedia } from "../embedder.ts";
import type { ModelProfile } from "./models.ts";
import type { FilesClient, Part } from "./parts.ts";
import { sleep } from "../internal/sleep.ts";

/** How many times an uploaded file's state is read while it is `PROCESSING`. */
const MAX_STATE_POLLS = 60;
const POLL_INTERVAL_MS = 1000;

/**
 * Turns media into parts, in order: inline when within the kind's
 * `maxInlineBytes`, else uploaded (the uploaded names are pushed to `uploads`
 * as soon as they exist, so the caller can delete them whatever happens).
 */
export async function mediaParts(
  media: readonly EmbedMedia[],
  profile: ModelProfile,
  files: FilesClient | undefined,
  uploads: string[],
  signal?: AbortSignal,
): Promise<Part[]> {
  const parts: Part[] = [];
  for (const file of media) {
    const limit = Object.values(profile.media).find((l) => l.mimeTypes.includes(file.mimeType));
    const inline = limit === undefined || file.size <= limit.maxInlineBytes;
    const bytes = await file.read();
    if (inline || files === undefined) {
      parts.push({ inlineData: { mimeType: file.mimeType, data: toBase64(bytes) } });
      continue;
    }
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: file.mimeType });
    let uploaded = await files.upload({
      file: blob,
      config: { mimeType: file.mimeType, ...(signal !== undefined && { abortSignal: signal }) },
    });
    if (uploaded.name !== undefined) uploads.push(uploaded.name);
    for (let poll = 0; uploaded.state === "PROCESSING" && poll < MAX_STATE_POLLS; poll++) {
      await sleep(POLL_INTERVAL_MS, signal);
      uploaded = await files.get({ name: uploaded.name! });
    }
    if (
      uploaded.uri === undefined || (uploaded.state !== undefined && uploaded.state !== "ACTIVE")
    ) {
      throw new Error(
        `Cannot embed ${file.name}: the uploaded file is ${uploaded.state ?? "without a URI"}`,
      );
    }
    parts.push({ fileData: { mimeType: file.mimeType, fileUri: uploaded.uri } });
  }
  return parts;
}

/** Base64 of `bytes` (the runtime's `Uint8Array.prototype.toBase64`). */
function toBase64(bytes: Uint8Array): string {
  return (bytes as Uint8Array & { toBase64(): string }).toBase64();
}
