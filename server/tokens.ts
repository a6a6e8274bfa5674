/**
 * Client tokens as a token file or an environment variable holds them.
 *
 * @module
 */

/**
 * Reads client tokens from text: one per line or comma-separated; blank
 * entries and lines starting with `#` are skipped, whitespace is trimmed.
 *
 * @param text A token file's contents, or an environment variable's value.
 * @returns The tokens, in order.
 *
 * @example Usage
 * ```ts
 * import { parseTokenList } from "./tokens.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseTokenList("# clients\none\r\n\n  two  \n#three\n"), ["one", "two"]);
 * assert.deepEqual(parseTokenList("a,b, c"), ["a", "b", "c"]);
 * ```
 */
export function parseTokenList(text: string): string[] {
  return text.split(/\r?\n/)
    .filter((line) => !line.trim().startsWith("#"))
    .flatMap((line) => line.split(","))
    .map((token) => token.trim())
    .filter((token) => token !== "");
}
