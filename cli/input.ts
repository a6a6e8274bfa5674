/**
 * Reading a corpus for the CLI: plain text (one input per line) or JSON Lines
 * (one object per line with a text field and an optional id), streamed from a
 * byte stream so that memory does not grow with the file.
 *
 * Lines are decoded with a strict UTF-8 decoder (a chunk at a time): a line that is
 * not valid UTF-8, not valid JSON, or lacks its text becomes an
 * {@linkcode InputError} naming the line, and the lines after it are read as
 * usual. Blank lines (empty or only whitespace) are skipped in both formats.
 *
 * @module
 */

import { exactNumericId } from "./_json_id.ts";
import { decodeLines } from "./_lines.ts";
import type { MediaErrorCode } from "../gemini/media_files.ts";

/** The two input formats: one text per line, or one JSON object per line. */
export type InputFormat = "text" | "jsonl";

/**
 * An input's id. Text lines: the 0-based line number. JSONL lines: the `id`
 * field exactly as written (a bigint for an integer beyond 2^53), else
 * `"line:N"` with N the 1-based line number; a bad JSONL line always gets its
 * `"line:N"` id, so it never takes an id from a good line. Explicit ids of the
 * form `line:N` are refused, so the two kinds never collide.
 */
export type InputId = string | number | bigint;

/** Why a line could not become an input. */
export type InputErrorCode =
  | "INVALID_UTF8"
  | "INVALID_JSON"
  | "INVALID_ID"
  | "MISSING_TEXT"
  | "EMPTY_TEXT"
  | "INVALID_FILE"
  | "LINE_TOO_LONG"
  | MediaErrorCode;

/** A line that became an input. */
export interface InputText {
  /** Always `true`: this line has a text to embed. */
  ok: true;
  /** The input's id. */
  id: InputId;
  /** The 0-based line number. */
  line: number;
  /** The text to embed (`""` for a JSONL line of files alone). */
  text: string;
  /** The JSONL title field, when the line has one. */
  title?: string;
  /** The JSONL `"file"` field's paths, as written, when the line has one. */
  files?: string[];
  /** Byte offset just past the line in the stream: how far the reader got. */
  end: number;
}

/** A line that could not become an input; the CLI writes it as an error record. */
export interface InputError {
  /** Always `false`: this line has no text to embed. */
  ok: false;
  /** The line's id: its 0-based number (text), or `"line:N"` (JSONL, N from 1). */
  id: InputId;
  /** The 0-based line number. */
  line: number;
  /** What is wrong, naming the line (1-based, as editors count). */
  error: { code: InputErrorCode; message: string };
  /** Byte offset just past the line in the stream. */
  end: number;
}

/** One line of input: a text to embed, or why there is none. */
export type InputRecord = InputText | InputError;

/** Options of {@linkcode readInputs}. */
export interface ReadInputsOptions {
  /**
   * How each line is read.
   *
   * @default {"text"}
   */
  format?: InputFormat;
  /**
   * The JSONL field holding the text.
   *
   * @default {"text"}
   */
  textField?: string;
  /**
   * The JSONL field holding a document's title (optional on each line).
   *
   * @default {"title"}
   */
  titleField?: string;
  /**
   * The longest line read, in bytes; a longer one becomes a `LINE_TOO_LONG`
   * error without being held in memory.
   *
   * @default {1048576}
   */
  maxLineBytes?: number;
  /** Called with the 0-based number of each blank line skipped. */
  onBlankLine?: (line: number) => void;
  /**
   * Stops reading: the source is cancelled (a pending read of a pipe or a
   * terminal returns at once) and the generator throws `signal.reason`.
   */
  signal?: AbortSignal;
}

/**
 * Picks the format from a file name: `.jsonl` (or `.ndjson`) is JSONL, anything else is text.
 *
 * @param path A file path.
 * @returns The format the file is read in.
 *
 * @example Usage
 * ```ts
 * import { formatFromPath } from "./input.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatFromPath("corpus.jsonl"), "jsonl");
 * assert.equal(formatFromPath("corpus.txt"), "text");
 * ```
 */
export function formatFromPath(path: string): InputFormat {
  return /\.(jsonl|ndjson)$/i.test(path) ? "jsonl" : "text";
}

const DEFAULT_MAX_LINE_BYTES = 1 << 20;

/**
 * Reads inputs from a byte stream, one per line, in order.
 *
 * In `"text"` format each line (without its `\n` or `\r\n`) is a text and its
 * id is its 0-based line number. In `"jsonl"` format each line is a JSON
 * object: its `textField` (a non-empty string) is the text, and its `id` (a
 * non-empty string or a number, kept exactly as written) the id, defaulting
 * to `"line:N"` (N the 1-based line number). Every bad JSONL line's error
 * record gets its `"line:N"` id, so a bad line never takes a good line's id.
 *
 * @param source The bytes: a file's or stdin's `readable`, or any async iterable of chunks.
 * @param options Format, text field, line limit, blank-line hook and cancellation.
 * @returns An async generator of one record per non-blank line.
 * @throws {RangeError} If `maxLineBytes` is not a positive integer.
 *
 * @example Reading JSONL
 * ```ts
 * import { readInputs } from "./input.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode('{"id":"a","text":"hello"}\n{"text":"world"}\nnot json\n');
 * const records = await Array.fromAsync(readInputs([bytes], { format: "jsonl" }));
 * assert.deepEqual(records.map((r) => [r.id, r.ok ? r.text : r.error.code]), [
 *   ["a", "hello"],
 *   ["line:2", "world"],
 *   ["line:3", "INVALID_JSON"],
 * ]);
 * ```
 */
export async function* readInputs(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ReadInputsOptions = {},
): AsyncGenerator<InputRecord, void, undefined> {
  for await (const group of readInputGroups(source, options)) yield* group;
}

/**
 * Reads inputs like {@linkcode readInputs}, a group at a time: the records
 * of the lines that ended in one chunk of the byte stream. A reader that
 * handles records one by one saves an async step per line this way.
 *
 * @param source The bytes: a file's or stdin's `readable`, or any async iterable of chunks.
 * @param options Format, text field, line limit, blank-line hook and cancellation.
 * @returns An async generator of non-empty arrays of records, in line order.
 * @throws {RangeError} If `maxLineBytes` is not a positive integer.
 *
 * @example Usage
 * ```ts
 * import { readInputGroups } from "./input.ts";
 * import assert from "node:assert/strict";
 *
 * const chunks = [new TextEncoder().encode("a\nb\n"), new TextEncoder().encode("c\n")];
 * const groups = await Array.fromAsync(readInputGroups(chunks));
 * assert.deepEqual(groups.map((g) => g.map((r) => r.ok && r.text)), [["a", "b"], ["c"]]);
 * ```
 */
export async function* readInputGroups(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ReadInputsOptions = {},
): AsyncGenerator<InputRecord[], void, undefined> {
  const {
    format = "text",
    textField = "text",
    titleField = "title",
    maxLineBytes = DEFAULT_MAX_LINE_BYTES,
    onBlankLine,
    signal,
  } = options;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
    throw new RangeError(
      `Cannot read inputs: maxLineBytes must be a positive integer, received ${maxLineBytes}`,
    );
  }
  signal?.throwIfAborted();
  const fail = format === "text" ? failText : failJson;
  const chunks = source instanceof ReadableStream ? cancellable(source, signal) : source;
  for await (const lines of decodeLines(chunks, { maxLineBytes })) {
    signal?.throwIfAborted();
    const records: InputRecord[] = [];
    for (const raw of lines) {
      const { number: line, end } = raw;
      if (raw.tooLong) {
        records.push(fail(
          line,
          end,
          "LINE_TOO_LONG",
          `line ${line + 1} is ${raw.length} bytes, longer than the ${maxLineBytes}-byte limit`,
        ));
        continue;
      }
      let content = raw.text;
      if (content === undefined) {
        records.push(fail(line, end, "INVALID_UTF8", `line ${line + 1} is not valid UTF-8`));
        continue;
      }
      if (content.charCodeAt(content.length - 1) === 13) content = content.slice(0, -1); // \r\n
      if (isBlank(content)) {
        onBlankLine?.(line);
        continue;
      }
      records.push(
        format === "text"
          ? { ok: true, id: line, line, text: content, end }
          : parseJsonLine(content, line, end, textField, titleField),
      );
    }
    if (records.length > 0) yield records;
  }
  signal?.throwIfAborted();
}

/** Whether `text` is empty or only whitespace, without allocating (as `text.trim() === ""`). */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
      c === 0x205f || c === 0x3000 || c === 0xfeff;
    if (!space) return false;
  }
  return true;
}

/** The id of a JSONL line without a valid id, and of every bad JSONL line: never an explicit id. */
export function lineId(line: number): string {
  return `line:${line + 1}`;
}

const LINE_ID = /^line:\d+$/;

/** Whether `id` has the reserved form `line:N` (the regex only for ids that start so). */
function isLineId(id: string): boolean {
  return id.startsWith("line:") && LINE_ID.test(id);
}

function failText(line: number, end: number, code: InputErrorCode, message: string): InputError {
  return { ok: false, id: line, line, error: { code, message }, end };
}

function failJson(line: number, end: number, code: InputErrorCode, message: string): InputError {
  return { ok: false, id: lineId(line), line, error: { code, message }, end };
}

function parseJsonLine(
  content: string,
  line: number,
  end: number,
  field: string,
  titleField: string,
): InputRecord {
  const fail = failJson;
  const at = `line ${line + 1}`;
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (error) {
    return fail(
      line,
      end,
      "INVALID_JSON",
      `${at} is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    return fail(line, end, "INVALID_JSON", `${at} is not a JSON object, received ${kind}`);
  }
  const object = value as Record<string, unknown>;
  let id: InputId = lineId(line);
  if ("id" in object) {
    const given = object.id;
    const exact = typeof given === "number" ? exactNumericId(content, given) : undefined;
    if (
      !(typeof given === "string" && given !== "" && !isLineId(given)) &&
      exact === undefined
    ) {
      const why = typeof given === "string" && isLineId(given)
        ? `ids of the form line:N are reserved for lines without an id`
        : typeof given === "number"
        ? `a numeric id must be written as a plain number (it is kept exactly as written); put it in quotes`
        : `"id" must be a non-empty string or a number`;
      return fail(
        line,
        end,
        "INVALID_ID",
        `${at}: ${why}, received ${
          typeof given === "number" ? idSource(content) : JSON.stringify(given) ?? typeof given
        }`,
      );
    }
    id = exact ?? (given as string);
  }
  // Built only for a message: most lines have none.
  const given = "id" in object;
  const where = () =>
    given ? `${at} (id ${typeof id === "string" ? JSON.stringify(id) : String(id)})` : at;
  const files = object.file === undefined ? undefined : parseFiles(object.file, where());
  if (typeof files === "string") return fail(line, end, "INVALID_FILE", files);
  const text = object[field];
  const title = object[titleField];
  if (typeof text === "string" && files === undefined && title === undefined && !isBlank(text)) {
    return { ok: true, id, line, text, end }; // the common case, with nothing else to copy
  }
  const extra = {
    ...(typeof title === "string" && title.trim() !== "" && { title }),
    ...(files !== undefined && { files }),
  };
  if (text === undefined) {
    if (files !== undefined) return { ok: true, id, line, text: "", ...extra, end };
    return fail(line, end, "MISSING_TEXT", `${where()} has no "${field}" field`);
  }
  if (typeof text !== "string") {
    return fail(
      line,
      end,
      "MISSING_TEXT",
      `${where()}: "${field}" must be a string, received ${
        text === null ? "null" : Array.isArray(text) ? "an array" : typeof text
      }`,
    );
  }
  if (text.trim() === "") {
    if (files !== undefined) return { ok: true, id, line, text: "", ...extra, end };
    return fail(line, end, "EMPTY_TEXT", `${where()}: "${field}" is empty`);
  }
  return { ok: true, id, line, text, ...extra, end };
}

/** The `"file"` field: a path or a non-empty list of paths; a string is the problem. */
function parseFiles(value: unknown, where: string): string[] | undefined | string {
  if (value === undefined) return undefined;
  const list = typeof value === "string" ? [value] : value;
  if (
    !Array.isArray(list) || list.length === 0 ||
    !list.every((path) => typeof path === "string" && path !== "")
  ) {
    return `${where}: "file" must be a path or a non-empty list of paths, received ${
      JSON.stringify(value)
    }`;
  }
  return list as string[];
}

/** The source text of a line's numeric id, for messages. */
function idSource(content: string): string {
  return /"id"\s*:\s*(-?[\d.eE+-]+)/.exec(content)?.[1] ?? "a number";
}

/** Reads `stream`, cancelling the read in progress when `signal` aborts. */
async function* cancellable(
  stream: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // Stopping early (break, throw): release the file or pipe.
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
