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

// One piece per match, by group: a run of ASCII letters, a run of whitespace,
// a code point beyond the BMP (a surrogate pair), or any other single character.
const PIECE = /([A-Za-z]+)|(\s+)|([\ud800-\udbff][\udc00-\udfff])|[^]/g;

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
 * never below 1 for a non-empty text.
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
  let tokens = 0;
  for (const [piece, letters, spaces, astral] of text.matchAll(PIECE)) {
    if (letters !== undefined) tokens += Math.ceil(letters.length / 3);
    else if (spaces !== undefined) tokens += spaces === " " ? 0 : Math.ceil(spaces.length / 4);
    else if (astral !== undefined) tokens += 4;
    else if (piece !== "") tokens += 1;
  }
  return Math.max(tokens, Math.ceil(text.length / 4), text === "" ? 0 : 1);
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
