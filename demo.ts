/**
 * The classic demo's input stream: `input-0` … `input-N` arriving with random
 * delays, reproducible from a seed.
 *
 * @module
 */

import { seededRandom } from "./_random.ts";
import { sleep } from "./_sleep.ts";

/** Options for {@linkcode demoInputs}. */
export interface DemoInputsOptions {
  /**
   * How many inputs to produce.
   *
   * @default {100}
   */
  count?: number;
  /**
   * The longest delay before each input, in milliseconds; each delay is uniform in `[0, maxDelayMs]`.
   *
   * @default {300}
   */
  maxDelayMs?: number;
  /**
   * Seed for the delays: the same seed gives the same arrival times.
   *
   * @default {1}
   */
  seed?: number;
  /** Stops the stream early; the generator then throws `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Yields `input-0`, `input-1`, … each after a random delay, like a live
 * stream of queries.
 *
 * @param options Count, delay bound and seed.
 * @returns An async generator of the inputs.
 *
 * @example Usage
 * ```ts
 * import { demoInputs } from "./demo.ts";
 * import assert from "node:assert/strict";
 *
 * const inputs = await Array.fromAsync(demoInputs({ count: 3, maxDelayMs: 0 }));
 * assert.deepEqual(inputs, ["input-0", "input-1", "input-2"]);
 * ```
 */
export async function* demoInputs(options: DemoInputsOptions = {}): AsyncGenerator<string> {
  const { count = 100, maxDelayMs = 300, seed = 1, signal } = options;
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const delay = Math.round(random() * maxDelayMs);
    if (delay > 0) await sleep(delay, signal);
    signal?.throwIfAborted();
    yield `input-${i}`;
  }
}
