/**
 * Writing the CLI's results: one JSON object per line, `{"id":…,"embedding":[…]}`
 * or `{"id":…,"error":{"code":…,"message":…}}`, through a buffer that is
 * written out in large chunks, at least every `flushInterval`, and whose
 * fullness pushes back on the caller.
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import type { InputId } from "./input.ts";

/** What an output record says went wrong for one input. */
export interface RecordError {
  /** A stable code, such as `INVALID_JSON` or `RESOURCE_EXHAUSTED`. */
  code: string;
  /** What went wrong, for a person. */
  message: string;
  /** The HTTP status of the failed call, when there was one. */
  status?: number;
  /** How many calls were made for the input, when any were. */
  attempts?: number;
}

/** The destination of a {@linkcode JsonlWriter}: a `Deno.FsFile`, `Deno.stdout`, or a stand-in. */
export interface WritableSink {
  /**
   * Writes some or all of `bytes`.
   *
   * @param bytes The bytes to write.
   * @returns How many bytes were written.
   */
  write(bytes: Uint8Array): Promise<number>;
}

/** Options of {@linkcode JsonlWriter}. */
export interface JsonlWriterOptions {
  /**
   * How many characters are buffered before they are written; a `write` that
   * fills the buffer resolves only once it has been written out.
   *
   * @default {65536}
   */
  bufferSize?: number;
  /**
   * The longest a buffered line waits before it is written, in milliseconds.
   *
   * @default {1000}
   */
  flushInterval?: number;
}

/**
 * Formats one output record as a line of JSON (without the newline).
 *
 * @param id The input's id.
 * @param result Its vector (and, with `--cache`, the cache key of the text it was made from), or
 * what went wrong.
 * @returns The JSON text.
 *
 * @example Usage
 * ```ts
 * import { formatRecord } from "./output.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatRecord(7, { embedding: [0.5, -0.25] }), '{"id":7,"embedding":[0.5,-0.25]}');
 * assert.equal(formatRecord(12345678901234567891n, { embedding: [1] }), '{"id":12345678901234567891,"embedding":[1]}');
 * assert.equal(
 *   formatRecord(8, { embedding: [1], cacheKey: "ab12" }),
 *   '{"id":8,"cache_key":"ab12","embedding":[1]}',
 * );
 * assert.equal(
 *   formatRecord("a", { error: { code: "EMPTY_TEXT", message: "line 2: \"text\" is empty" } }),
 *   '{"id":"a","error":{"code":"EMPTY_TEXT","message":"line 2: \\"text\\" is empty"}}',
 * );
 * ```
 */
export function formatRecord(
  id: InputId,
  result: { embedding: readonly number[]; cacheKey?: string } | { error: RecordError },
): string {
  // A bigint id (an integer beyond 2^53) is written as its digits, exactly as it was read.
  const head = `{"id":${typeof id === "bigint" ? String(id) : JSON.stringify(id)},`;
  if (!("embedding" in result)) return `${head}"error":${JSON.stringify(result.error)}}`;
  const key = result.cacheKey === undefined
    ? ""
    : `"cache_key":${JSON.stringify(result.cacheKey)},`;
  return `${head}${key}"embedding":${JSON.stringify(result.embedding)}}`;
}

const encoder = new TextEncoder();

/**
 * How many writes go between readings of the clock: the flush timer is what
 * flushes a quiet buffer, and the clock only catches a timer held up by a
 * busy event loop, so it need not be read for every line.
 */
const CLOCK_EVERY = 64;

/**
 * A buffered writer of lines. {@linkcode JsonlWriter.write} appends to the
 * buffer synchronously, so lines come out in the order `write` was called,
 * however the returned promises are awaited.
 *
 * @example Usage
 * ```ts
 * import { JsonlWriter } from "./output.ts";
 * import assert from "node:assert/strict";
 *
 * const chunks: string[] = [];
 * const sink = { write: (b: Uint8Array) => (chunks.push(new TextDecoder().decode(b)), Promise.resolve(b.length)) };
 * const writer = new JsonlWriter(sink, { bufferSize: 1024 });
 * await writer.write('{"id":0}');
 * await writer.write('{"id":1}');
 * assert.deepEqual(chunks, []); // still buffered
 * await writer.close();
 * assert.deepEqual(chunks, ['{"id":0}\n{"id":1}\n']);
 * ```
 */
export class JsonlWriter {
  #sink: WritableSink;
  #bufferSize: number;
  #flushInterval: number;
  /** The buffered lines, without their newlines (added when they are joined). */
  #parts: string[] = [];
  #buffered = 0;
  #lastFlush: number;
  #unclocked = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  #lines = 0;
  #bytes = 0;
  #closed = false;

  /**
   * Creates the writer; nothing is written until a line is.
   *
   * @param sink Where the lines go.
   * @param options Buffer size and flush interval.
   * @throws {RangeError} If `bufferSize` is not a positive integer or `flushInterval` is negative.
   */
  constructor(sink: WritableSink, options: JsonlWriterOptions = {}) {
    const { bufferSize = 65536, flushInterval = 1000 } = options;
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new RangeError(
        `Cannot create writer: bufferSize must be a positive integer, received ${bufferSize}`,
      );
    }
    if (!(flushInterval >= 0)) {
      throw new RangeError(
        `Cannot create writer: flushInterval must be a non-negative number, received ${flushInterval}`,
      );
    }
    this.#sink = sink;
    this.#bufferSize = bufferSize;
    this.#flushInterval = flushInterval;
    this.#lastFlush = now();
  }

  /** Lines written to the sink so far (not counting buffered ones). */
  get linesWritten(): number {
    return this.#lines;
  }

  /** Bytes written to the sink so far. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /**
   * Buffers `line` and a newline. Resolves at once while the buffer has room;
   * when it is full, resolves once it has been written out (backpressure).
   *
   * @param line One line of text, without a newline.
   * @returns A promise to await before writing much more.
   * @throws {Error} The sink's error, if an earlier write to it failed.
   */
  write(line: string): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#closed) return Promise.reject(new TypeError("Cannot write: the writer is closed"));
    this.#parts.push(line);
    this.#buffered += line.length + 1;
    if (this.#buffered >= this.#bufferSize || this.#overdue()) return this.flush();
    if (this.#timer === undefined && Number.isFinite(this.#flushInterval)) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush().catch(() => {}); // kept in #failure, thrown by the next call
      }, this.#flushInterval);
    }
    return Promise.resolve();
  }

  /**
   * Writes out everything buffered so far.
   *
   * @returns A promise that resolves once it is in the sink.
   * @throws {Error} The sink's error.
   */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#lastFlush = now();
    if (this.#parts.length > 0) {
      const text = this.#parts.join("\n") + "\n";
      const lines = this.#parts.length;
      this.#parts = [];
      this.#buffered = 0;
      this.#writing = this.#writing.then(() => this.#writeAll(encoder.encode(text), lines));
    }
    return this.#writing.then(() => {
      if (this.#failure) throw this.#failure.error;
    });
  }

  /**
   * Flushes and stops the flush timer; the sink itself is left open.
   *
   * @returns A promise that resolves once everything is in the sink.
   * @throws {Error} The sink's error.
   */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Whether the buffer has waited `flushInterval` since the last flush (read every {@linkcode CLOCK_EVERY} lines). */
  #overdue(): boolean {
    const interval = this.#flushInterval;
    if (interval === Infinity) return false;
    if (interval > 0 && ++this.#unclocked < CLOCK_EVERY) return false;
    this.#unclocked = 0;
    return now() - this.#lastFlush >= interval;
  }

  async #writeAll(bytes: Uint8Array, lines: number): Promise<void> {
    if (this.#failure) return;
    let at = 0;
    try {
      while (at < bytes.length) at += await this.#sink.write(bytes.subarray(at));
      this.#bytes += bytes.length;
      this.#lines += lines;
    } catch (error) {
      // Count the whole lines that did reach the sink before it failed (a full disk).
      this.#bytes += at;
      for (let i = bytes.indexOf(10); i !== -1 && i < at; i = bytes.indexOf(10, i + 1)) {
        this.#lines++;
      }
      this.#failure = { error };
    }
  }
}
