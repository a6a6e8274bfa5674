// Internal: the value checks that `main.ts` and `main.ts serve` share. Each
// throws a UsageError that names the flag and the value received.

import { parseDuration } from "../duration.ts";
import { parseByteSize } from "./_byte_size.ts";
import { UsageError } from "./usage_error.ts";

/** A whole number in `[min, max]`, or `fallback` when the flag is absent. */
export function integer(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new UsageError(
      `Invalid --${flag}: expected a whole number ${range}, received "${value}"`,
    );
  }
  return n;
}

/** A duration in milliseconds (`"250ms"`, `"2s"`); `"inf"` only when `allowInfinite`. */
export function duration(
  flag: string,
  value: string | undefined,
  fallback: number,
  allowInfinite = false,
): number {
  if (value === undefined) return fallback;
  let ms: number;
  try {
    ms = parseDuration(value, `--${flag}`);
  } catch (error) {
    throw new UsageError(`Invalid --${flag}: ${(error as Error).message}`);
  }
  if (!allowInfinite && ms === Infinity) {
    throw new UsageError(`Invalid --${flag}: expected a finite duration, received "${value}"`);
  }
  return ms;
}

/** A finite duration of more than 0 ms. */
export function positiveDuration(
  flag: string,
  value: string | undefined,
  fallback: number,
): number {
  const ms = duration(flag, value, fallback);
  if (ms <= 0) throw new UsageError(`Invalid --${flag}: expected more than 0, received "${value}"`);
  return ms;
}

/** An http(s) URL without its trailing slashes. */
export function url(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new UsageError(`Invalid --${flag}: expected an http(s) URL, received "${value}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`Invalid --${flag}: expected an http(s) URL, received "${value}"`);
  }
  return value.replace(/\/+$/, "");
}

/** `--cache-max-size`: bytes from a size like `500MB` or `2GiB`. */
export function cacheMaxSize(value: string): number {
  const bytes = parseByteSize(value);
  if (bytes === undefined) {
    throw new UsageError(
      `Invalid --cache-max-size: expected a size like 500MB or 2GiB, received "${value}"`,
    );
  }
  return bytes;
}
