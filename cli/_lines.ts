// Internal: splits a byte stream into lines without decoding it, so that each
// line can be decoded (and its invalid UTF-8 reported) on its own. Used by the
// input reader and the resume scanner. Not exported from mod.ts.

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
