/**
 * A conservative token estimate for Gemini embedding inputs, computed locally
 * so that per-text limits and tokens-per-minute quotas can be enforced before
 * a request is sent.
 *
 * @module
 */

/**
 * The most input tokens `gemini-embedding-001` accepts per text.
 */
export const MAX_INPUT_TOKENS = 2048;

/**
 * Estimates how many tokens Gemini counts for `text`, erring high.
 *
 * The heuristic mirrors how a SentencePiece tokenizer with digit splitting and
 * byte fallback (Gemini's) cuts text, taking the expensive side each time:
 *
 * - a run of ASCII letters costs one token per 3 letters, rounded up (English
 *   averages about 4 characters per token; rare words split finer);
 * - every digit is its own token, as is every punctuation mark or symbol;
 * - a single space is free (it joins the next word's token); any other run of
 *   whitespace costs one token per 4 characters, rounded up;
 * - any other character of the Basic Multilingual Plane (accents, Cyrillic,
 *   CJK…) costs one token; a code point beyond it (emoji and rare scripts,
 *   which fall back to bytes) costs four, its UTF-8 length.
 *
 * The result is never below `ceil(length / 4)`, the common rule of thumb, and
 * never below 1 for a non-empty text. It is never above `2 × length` (see
 * {@linkcode isClearlyWithinTokens}). One pass over the UTF-16 code units,
 * allocating nothing.
 *
 * @param text The text to estimate.
 * @returns The estimated token count; 0 for an empty text.
 *
 * @example Usage
 * ```ts
 * import { estimateTokens } from "./tokens.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(estimateTokens(""), 0);
 * assert.equal(estimateTokens("hello world"), 4); // "hel lo" + " wor ld"
 * assert.equal(estimateTokens("2024"), 4); // one token per digit
 * assert.equal(estimateTokens("猫"), 1);
 * assert.equal(estimateTokens("🙂"), 4);
 * ```
 */
export function estimateTokens(text: string): number {
  const length = text.length;
  let tokens = 0;
  let i = 0;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (isAsciiLetter(c)) {
      let end = i + 1;
      while (end < length && isAsciiLetter(text.charCodeAt(end))) end++;
      tokens += Math.ceil((end - i) / 3);
      i = end;
    } else if (isSpace(c)) {
      let end = i + 1;
      while (end < length && isSpace(text.charCodeAt(end))) end++;
      // A lone ASCII space joins the next word's token.
      if (end - i > 1 || c !== 0x20) tokens += Math.ceil((end - i) / 4);
      i = end;
    } else if (
      c >= 0xd800 && c <= 0xdbff && i + 1 < length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      tokens += 4; // a code point beyond the BMP: its four UTF-8 bytes
      i += 2;
    } else {
      tokens += 1;
      i++;
    }
  }
  return Math.max(tokens, Math.ceil(length / 4), length === 0 ? 0 : 1);
}

/**
 * Whether `text` is certainly within `maxTokens` by {@linkcode estimateTokens},
 * judged from its length alone: no code unit costs more than 2 tokens (a
 * surrogate pair, two units, costs 4), so `2 × length ≤ maxTokens` is enough.
 * It costs nothing, so callers can skip the estimate for the usual short text.
 *
 * @param text The text.
 * @param maxTokens The limit.
 * @returns `true` when the text cannot be over the limit; `false` when it has to be estimated.
 *
 * @example Usage
 * ```ts
 * import { estimateTokens, isClearlyWithinTokens } from "./tokens.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isClearlyWithinTokens("a short sentence", 2048), true);
 * const long = "x".repeat(3000);
 * assert.equal(isClearlyWithinTokens(long, 2048), false);
 * assert.equal(estimateTokens(long), 1000); // not clearly within, but within
 * ```
 */
export function isClearlyWithinTokens(text: string, maxTokens: number): boolean {
  return text.length * 2 <= maxTokens;
}

function isAsciiLetter(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

/** The characters of the regular expression class `\s`. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

let graphemes: Intl.Segmenter | undefined;

/**
 * Cuts `text` to its longest prefix whose {@linkcode estimateTokens} is at
 * most `maxTokens`, ending on a grapheme boundary (never inside a surrogate
 * pair, a combining sequence or an emoji sequence).
 *
 * @param text The text to shorten.
 * @param maxTokens The most tokens the result may be estimated at.
 * @returns `text` itself when it already fits, else the longest fitting prefix.
 * @throws {RangeError} If `maxTokens` is not a non-negative integer.
 *
 * @example Usage
 * ```ts
 * import { estimateTokens, truncateToTokens } from "./tokens.ts";
 * import assert from "node:assert/strict";
 *
 * const long = "word ".repeat(1000);
 * const short = truncateToTokens(long, 100);
 * assert.ok(long.startsWith(short));
 * assert.ok(estimateTokens(short) <= 100);
 * assert.equal(truncateToTokens("fits", 100), "fits");
 * ```
 */
export function truncateToTokens(text: string, maxTokens: number): string {
  if (!Number.isInteger(maxTokens) || maxTokens < 0) {
    throw new RangeError(
      `Cannot truncate text: maxTokens must be a non-negative integer, received ${maxTokens}`,
    );
  }
  if (estimateTokens(text) <= maxTokens) return text;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  const ends: number[] = [];
  for (const { index, segment } of graphemes.segment(text)) ends.push(index + segment.length);
  // The estimate grows with the prefix, so binary-search the last boundary that fits.
  let low = 0; // count of graphemes known to fit
  let high = ends.length; // count known not to fit (the whole text)
  while (high - low > 1) {
    const mid = (low + high) >>> 1;
    if (estimateTokens(text.slice(0, ends[mid - 1])) <= maxTokens) low = mid;
    else high = mid;
  }
  return low === 0 ? "" : text.slice(0, ends[low - 1]);
}
