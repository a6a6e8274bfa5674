// Internal: splits a byte stream into lines: raw (splitLines, for the resume
// scanner) or decoded a chunk at a time with invalid UTF-8 reported per line
// (decodeLines, for the input reader). Not exported from mod.ts.

/** One line of a byte stream, without its `\n`. */
export interface RawLine {
  /**
   * The line's bytes (without the `\n`), or an empty array when the line was
   * longer than `maxLineBytes`. May be a view into the stream's chunk: use it
   * before asking for the next line.
   */
  bytes: Uint8Array;
  /** The line's 0-based number. */
  number: number;
  /** Byte offset of the line's first byte in the stream. */
  start: number;
  /** Byte offset just past the line, including its `\n` when it has one. */
  end: number;
  /** The line's length in bytes, without the `\n` (even when it was too long to keep). */
  length: number;
  /** `true` when the line was longer than `maxLineBytes`; its bytes were dropped. */
  tooLong: boolean;
  /** `true` when the line ended with `\n`; only the last line of a stream can lack it. */
  terminated: boolean;
}

/** Options of {@linkcode splitLines}. */
export interface SplitLinesOptions {
  /**
   * The longest line kept, in bytes; a longer line is yielded with `tooLong`
   * and no bytes, so that one huge line cannot exhaust memory.
   *
   * @default {Infinity}
   */
  maxLineBytes?: number;
}

/**
 * Yields the lines of a byte stream. A last line without `\n` is yielded with
 * `terminated: false`; an empty stream yields nothing.
 *
 * @param source The bytes, in chunks.
 * @param options The longest line kept.
 * @returns An async generator of lines.
 */
export async function* splitLines(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: SplitLinesOptions = {},
): AsyncGenerator<RawLine, void, undefined> {
  const maxLineBytes = options.maxLineBytes ?? Infinity;
  let pending: Uint8Array[] = [];
  let pendingLength = 0; // bytes of the current line seen so far (kept or not)
  let tooLong = false;
  let number = 0;
  let offset = 0; // stream offset of the current chunk's first byte
  let lineStart = 0;

  const take = (tail: Uint8Array): Uint8Array => {
    if (tooLong) return new Uint8Array(0);
    if (pending.length === 0) return tail;
    const bytes = new Uint8Array(pendingLength);
    let at = 0;
    for (const part of pending) {
      bytes.set(part, at);
      at += part.length;
    }
    bytes.set(tail, at);
    return bytes;
  };

  for await (const chunk of source) {
    let from = 0;
    while (from < chunk.length) {
      const newline = chunk.indexOf(10, from);
      const stop = newline === -1 ? chunk.length : newline;
      const piece = chunk.subarray(from, stop);
      pendingLength += piece.length;
      if (pendingLength > maxLineBytes && !tooLong) {
        tooLong = true;
        pending = [];
      }
      if (newline === -1) {
        // Copy: the source may reuse its chunk buffer.
        if (!tooLong) pending.push(piece.slice());
        break;
      }
      const end = offset + newline + 1;
      yield {
        bytes: take(piece),
        number,
        start: lineStart,
        end,
        length: pendingLength,
        tooLong,
        terminated: true,
      };
      number++;
      lineStart = end;
      pending = [];
      pendingLength = 0;
      tooLong = false;
      from = newline + 1;
    }
    offset += chunk.length;
  }
  if (pendingLength > 0 || tooLong) {
    yield {
      bytes: take(new Uint8Array(0)),
      number,
      start: lineStart,
      end: offset,
      length: pendingLength,
      tooLong,
      terminated: false,
    };
  }
}

/** One line of a byte stream, decoded. */
export interface TextLine {
  /**
   * The line's text (without the `\n`); `undefined` when it is not valid
   * UTF-8 or was longer than `maxLineBytes`.
   */
  text: string | undefined;
  /** The line's 0-based number. */
  number: number;
  /** Byte offset just past the line, including its `\n` when it has one. */
  end: number;
  /** The line's length in bytes, without the `\n`. */
  length: number;
  /** `true` when the line was longer than `maxLineBytes`. */
  tooLong: boolean;
}

/**
 * Yields the decoded lines of a byte stream, as one array per chunk. The
 * complete lines of a chunk are decoded with one strict UTF-8 decode (a `\n`
 * byte never occurs inside a multi-byte character, so the text splits where
 * the bytes do); only when that chunk has invalid UTF-8, and for a line that
 * spans chunks, is each line decoded on its own, so that the bad line is the
 * only one reported.
 *
 * @param source The bytes, in chunks.
 * @param options The longest line kept.
 * @returns An async generator of the lines in each chunk (never an empty array).
 */
export async function* decodeLines(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: SplitLinesOptions = {},
): AsyncGenerator<TextLine[], void, undefined> {
  const maxLineBytes = options.maxLineBytes ?? Infinity;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const decode = (bytes: Uint8Array): string | undefined => {
    try {
      return decoder.decode(bytes);
    } catch {
      return undefined;
    }
  };
  let pending: Uint8Array[] = []; // the start of a line that spans chunks (copies)
  let pendingLength = 0;
  let spanning = false; // a line has started in an earlier chunk
  let number = 0;
  let offset = 0; // stream offset of the current chunk's first byte

  for await (const chunk of source) {
    const lines: TextLine[] = [];
    let from = 0;
    if (spanning) {
      const newline = chunk.indexOf(10);
      const piece = chunk.subarray(0, newline === -1 ? chunk.length : newline);
      pendingLength += piece.length;
      const tooLong = pendingLength > maxLineBytes;
      if (tooLong) pending = [];
      if (newline === -1) {
        if (!tooLong) pending.push(piece.slice()); // the source may reuse its buffer
        offset += chunk.length;
        continue;
      }
      const text = tooLong ? undefined : decode(concat(pending, piece, pendingLength));
      lines.push({
        text,
        number: number++,
        end: offset + newline + 1,
        length: pendingLength,
        tooLong,
      });
      pending = [];
      pendingLength = 0;
      spanning = false;
      from = newline + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= from) {
      const whole = decode(chunk.subarray(from, last + 1));
      let at = 0; // position in `whole`
      for (let start = from; start <= last;) {
        const newline = chunk.indexOf(10, start);
        const length = newline - start;
        const tooLong = length > maxLineBytes;
        let text: string | undefined;
        if (whole !== undefined) {
          const stop = whole.indexOf("\n", at);
          text = tooLong ? undefined : whole.slice(at, stop);
          // A lone decode drops a line's leading byte-order mark: so does this.
          if (at > 0 && text?.charCodeAt(0) === 0xfeff) text = text.slice(1);
          at = stop + 1;
        } else if (!tooLong) {
          text = decode(chunk.subarray(start, newline));
        }
        lines.push({ text, number: number++, end: offset + newline + 1, length, tooLong });
        start = newline + 1;
      }
      from = last + 1;
    }
    if (from < chunk.length) {
      spanning = true;
      const piece = chunk.subarray(from);
      pendingLength = piece.length;
      if (pendingLength <= maxLineBytes) pending.push(piece.slice());
    }
    offset += chunk.length;
    if (lines.length > 0) yield lines;
  }
  if (spanning) {
    const tooLong = pendingLength > maxLineBytes;
    const text = tooLong ? undefined : decode(concat(pending, new Uint8Array(0), pendingLength));
    yield [{ text, number, end: offset, length: pendingLength, tooLong }];
  }
}

function concat(parts: Uint8Array[], tail: Uint8Array, length: number): Uint8Array {
  if (parts.length === 0) return tail;
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  bytes.set(tail, at);
  return bytes;
}
