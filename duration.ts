/**
 * Parsing of human-friendly durations such as `"250ms"` or `"1.5s"`.
 *
 * @module
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Converts a duration to milliseconds. A number is taken as milliseconds; a
 * string is a non-negative decimal followed by `ms`, `s`, `m` or `h` (a bare
 * number is milliseconds). `Infinity` (or `"inf"`) means "no limit".
 *
 * @param value The duration, e.g. `1000`, `"250ms"`, `"1s"`, `"1.5m"`.
 * @param what What the duration is for, named in the error message.
 * @returns The duration in milliseconds.
 * @throws {RangeError} If `value` is negative, not a number, or has an unknown unit.
 *
 * @example Usage
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseDuration("1s"), 1000);
 * assert.equal(parseDuration("250ms"), 250);
 * assert.equal(parseDuration(40), 40);
 * assert.throws(() => parseDuration("soon"), RangeError);
 * ```
 */
export function parseDuration(value: number | string, what = "duration"): number {
  let ms: number;
  if (typeof value === "number") {
    ms = value;
  } else {
    const text = value.trim().toLowerCase();
    if (text === "inf" || text === "infinity") return Infinity;
    const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?$/.exec(text);
    ms = match ? Number(match[1]) * UNITS[match[2] ?? "ms"]! : NaN;
  }
  if (Number.isNaN(ms) || ms < 0) {
    throw new RangeError(
      `Cannot parse ${what}: expected a non-negative number of milliseconds or a string like "250ms" or "1s", received ${
        JSON.stringify(value)
      }`,
    );
  }
  return ms;
}
