/**
 * The error thrown when a cache file cannot be used.
 *
 * @module
 */

/**
 * Why a file is not a usable embedding cache:
 * - `"not-a-database"`: not an SQLite file at all;
 * - `"foreign"`: an SQLite database of another application;
 * - `"version"`: an embatch cache of a format this version does not read;
 * - `"corrupt"`: SQLite found the file damaged while reading or writing it.
 */
export type CacheFileErrorReason = "not-a-database" | "foreign" | "version" | "corrupt";

/**
 * Thrown by `EmbeddingCache` when its file is not a usable embatch cache. The
 * file is never modified in that case: delete it, or point at another path.
 *
 * @example Usage
 * ```ts
 * import { CacheFileError } from "./file_error.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheFileError("/tmp/x.sqlite", "foreign", "it is an SQLite database of another application");
 * assert.equal(error.name, "CacheFileError");
 * assert.equal(error.reason, "foreign");
 * assert.equal(
 *   error.message,
 *   "Cannot use cache file /tmp/x.sqlite: it is an SQLite database of another application",
 * );
 * ```
 */
export class CacheFileError extends Error {
  /** The cache file's path. */
  readonly path: string;
  /** Why the file cannot be used. */
  readonly reason: CacheFileErrorReason;

  /**
   * Creates the error.
   *
   * @param path The cache file's path.
   * @param reason Why the file cannot be used.
   * @param detail What was found, for people.
   * @param options The standard error options, such as `cause`.
   */
  constructor(
    path: string,
    reason: CacheFileErrorReason,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`Cannot use cache file ${path}: ${detail}`, options);
    this.name = "CacheFileError";
    this.path = path;
    this.reason = reason;
  }
}
