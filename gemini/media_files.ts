/**
 * Media files for multimodal inputs: checked against the model's documented
 * limits before anything is sent, and read only when the call is made.
 *
 * @module
 */

import type { EmbedMedia } from "../embedder.ts";
import { type MediaKind, mediaType, type ModelProfile } from "./models.ts";

/** Why a line's files cannot be embedded; each becomes that line's error record. */
export type MediaErrorCode =
  | "UNSUPPORTED_MEDIA"
  | "MEDIA_NOT_FOUND"
  | "MEDIA_UNREADABLE"
  | "MEDIA_TOO_LARGE"
  | "MEDIA_LIMIT";

/** A file that cannot be embedded, with the code and a message naming it. */
export interface MediaError {
  /** What is wrong. */
  code: MediaErrorCode;
  /** Names the file and the limit or cause. */
  message: string;
}

/**
 * Estimated tokens per file, for budgets only (Google publishes prices, not
 * token counts; these are derived from them: $0.00012 per image at $0.45 per
 * million is about 267 tokens, $0.00016 per audio second at $6.50 about 25,
 * $0.00079 per video frame at $12 about 66, at most 32 frames). PDF pages
 * are counted like images.
 */
const TOKENS = { image: 267, pdfPage: 267, audioSecond: 25, videoFrame: 66, videoFrames: 32 };

/**
 * Checks `paths` (relative to `baseDir` unless absolute) for `profile`'s
 * model and describes them as {@linkcode EmbedMedia}, read when sent.
 *
 * Checked before sending: the model takes media at all, each extension is
 * PNG, JPEG, PDF, MP3, WAV, MP4 or MOV, each file exists and can be opened,
 * no more files of a kind than one content allows (6 images; 1 PDF, audio
 * or video), no file over the Files API's 2 GB, a PDF of at most 6 pages
 * (counted from its page objects) and a WAV of at most 180 s (from its
 * header). The duration of MP3, MP4 and MOV files is not checked here: the
 * API refuses one that is too long, as that line's error.
 *
 * @param paths The files, in order.
 * @param baseDir The directory relative paths start from (the input file's).
 * @param profile The model's profile.
 * @returns The media, or the first problem found.
 *
 * @example An image and a missing file
 * ```ts
 * import { loadMediaFiles } from "./media_files.ts";
 * import { modelProfile } from "./models.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/cat.png`, new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]));
 * const media = await loadMediaFiles(["cat.png"], dir, modelProfile("gemini-embedding-2"));
 * assert.ok(Array.isArray(media));
 * assert.equal(media[0]!.mimeType, "image/png");
 * assert.equal((await media[0]!.read()).length, 8);
 * const missing = await loadMediaFiles(["dog.png"], dir, modelProfile("gemini-embedding-2"));
 * assert.equal(!Array.isArray(missing) && missing.code, "MEDIA_NOT_FOUND");
 * const v1 = await loadMediaFiles(["cat.png"], dir, modelProfile("gemini-embedding-001"));
 * assert.equal(!Array.isArray(v1) && v1.code, "UNSUPPORTED_MEDIA");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadMediaFiles(
  paths: readonly string[],
  baseDir: string,
  profile: ModelProfile,
): Promise<EmbedMedia[] | MediaError> {
  if (Object.keys(profile.media).length === 0) {
    return {
      code: "UNSUPPORTED_MEDIA",
      message:
        `${profile.model} embeds text only, received ${paths.length} file(s): use gemini-embedding-2 for images, PDFs, audio and video`,
    };
  }
  const media: EmbedMedia[] = [];
  const counts = new Map<MediaKind, number>();
  for (const name of paths) {
    const type = mediaType(name);
    const limit = type && profile.media[type.kind];
    if (type === undefined || limit === undefined) {
      return {
        code: "UNSUPPORTED_MEDIA",
        message:
          `${name}: not a file type ${profile.model} embeds (PNG, JPEG, PDF, MP3, WAV, MP4, MOV)`,
      };
    }
    const count = (counts.get(type.kind) ?? 0) + 1;
    counts.set(type.kind, count);
    if (count > limit.maxPerContent) {
      return {
        code: "MEDIA_LIMIT",
        message:
          `${name}: at most ${limit.maxPerContent} ${type.kind} file(s) per line, received ${count}`,
      };
    }
    const path = name.startsWith("/") ? name : `${baseDir}/${name}`;
    const checked = await checkFile(name, path, profile.maxFileBytes);
    if ("code" in checked) return checked;
    const tokens = await estimateMediaTokens(type.kind, path, checked.size, limit);
    if (typeof tokens !== "number") return { ...tokens, message: `${name}: ${tokens.message}` };
    media.push({
      mimeType: type.mimeType,
      size: checked.size,
      tokens,
      name,
      read: () => Deno.readFile(path),
    });
  }
  return media;
}

/** Whether the file exists, is a file, can be opened, and is within the largest upload. */
async function checkFile(
  name: string,
  path: string,
  maxBytes: number,
): Promise<{ size: number } | MediaError> {
  let size: number;
  try {
    const file = await Deno.open(path, { read: true });
    try {
      const info = await file.stat();
      if (!info.isFile) {
        return { code: "MEDIA_UNREADABLE", message: `${name}: not a regular file` };
      }
      size = info.size;
    } finally {
      file.close();
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { code: "MEDIA_NOT_FOUND", message: `${name}: no such file (looked at ${path})` };
    }
    return {
      code: "MEDIA_UNREADABLE",
      message: `${name}: cannot be read: ${(error as Error).message}`,
    };
  }
  if (size === 0) return { code: "MEDIA_UNREADABLE", message: `${name}: the file is empty` };
  if (size > maxBytes) {
    return {
      code: "MEDIA_TOO_LARGE",
      message: `${name}: ${size} bytes, over the Files API's limit of ${maxBytes} bytes`,
    };
  }
  return { size };
}

/** Tokens for budgets, checking a PDF's pages and a WAV's length against the model's limits. */
async function estimateMediaTokens(
  kind: MediaKind,
  path: string,
  size: number,
  limit: { maxPages?: number; maxSeconds?: number },
): Promise<number | MediaError> {
  switch (kind) {
    case "image":
      return TOKENS.image;
    case "video":
      return TOKENS.videoFrame * TOKENS.videoFrames;
    case "pdf": {
      const pages = countPdfPages(await Deno.readFile(path));
      const max = limit.maxPages ?? Infinity;
      if (pages > max) {
        return {
          code: "MEDIA_LIMIT",
          message: `a PDF of ${pages} pages, over the limit of ${max}`,
        };
      }
      return TOKENS.pdfPage * Math.max(pages, 1);
    }
    case "audio": {
      const max = limit.maxSeconds ?? Infinity;
      const seconds = path.toLowerCase().endsWith(".wav")
        ? await wavSeconds(path, size)
        : undefined;
      if (seconds !== undefined && seconds > max) {
        return {
          code: "MEDIA_LIMIT",
          message: `${seconds.toFixed(1)} s of audio, over the limit of ${max} s`,
        };
      }
      return TOKENS.audioSecond * Math.ceil(seconds ?? max);
    }
  }
}

/**
 * Counts a PDF's page objects (`/Type /Page`, not `/Pages`). Page objects
 * inside compressed object streams are not seen, so this can undercount; it
 * never overcounts a well-formed file.
 */
function countPdfPages(bytes: Uint8Array): number {
  const text = new TextDecoder("latin1").decode(bytes);
  return text.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
}

/** A WAV file's duration from its header's byte rate, or `undefined` if the header is not plain RIFF/WAVE. */
async function wavSeconds(path: string, size: number): Promise<number | undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    const header = new Uint8Array(44);
    const read = await file.read(header);
    if (read === null || read < 44) return undefined;
    const view = new DataView(header.buffer);
    const tag = (at: number) => String.fromCharCode(...header.subarray(at, at + 4));
    if (tag(0) !== "RIFF" || tag(8) !== "WAVE" || tag(12) !== "fmt ") return undefined;
    const byteRate = view.getUint32(28, true);
    return byteRate === 0 ? undefined : (size - 44) / byteRate;
  } finally {
    file.close();
  }
}
