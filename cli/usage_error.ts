/**
 * The error for a bad flag or value.
 *
 * @module
 */

/**
 * Thrown for a bad flag or value. `main.ts` prints its message and a pointer
 * to `--help`, then exits with code 2.
 *
 * @example Usage
 * ```ts
 * import { UsageError } from "./usage_error.ts";
 * import { parseCliArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => parseCliArgs(["--batch-size", "0"]), UsageError);
 * ```
 */
export class UsageError extends Error {
  /**
   * Constructs a new instance.
   *
   * @param message What is wrong, naming the flag and the received value.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
