/**
 * The simulator's command-line flags, as a reusable spec: `deno task
 * simulator` offers them as they are, and another CLI can offer them under a
 * prefix (`--simulate-rpm`, ...) by passing the prefix to each function.
 *
 * @module
 */

import { parseDuration } from "../duration.ts";
import type { SimulatorHandlerOptions } from "./server.ts";
import { GEMINI_LATENCY, type SimulatorFaults } from "./faults.ts";
import type { BatchSimulatorOptions } from "./batch.ts";

/** One flag of {@linkcode SIMULATOR_FLAGS}. */
export interface SimulatorFlag {
  /** The `node:util` `parseArgs` type of the flag. */
  readonly type: "string" | "boolean";
  /** What the value looks like in the help text, such as `N`; none for a boolean. */
  readonly value?: string;
  /** One line of help. */
  readonly help: string;
}

/**
 * The simulator's flags, by name without dashes or prefix. A probability `P`
 * is a number from 0 to 1; a `DURATION` is milliseconds or a string like
 * `250ms` or `2s`.
 *
 * @example Listing the flags
 * ```ts
 * import { SIMULATOR_FLAGS } from "./flags.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(SIMULATOR_FLAGS.rpm?.type, "string");
 * assert.ok("error-503" in SIMULATOR_FLAGS);
 * ```
 */
export const SIMULATOR_FLAGS: Readonly<Record<string, SimulatorFlag>> = Object.freeze(
  {
    "free-tier": {
      type: "boolean",
      help: "free-tier quotas (100 rpm, 30000 tpm) and Gemini-like latency",
    },
    rpm: {
      type: "string",
      value: "N",
      help: "requests per minute per API key (default unlimited)",
    },
    tpm: {
      type: "string",
      value: "N",
      help: "input tokens per minute per API key (default unlimited)",
    },
    "max-input-tokens": {
      type: "string",
      value: "N",
      help: "most tokens per text (default: the model's, 8192 or 2048)",
    },
    latency: { type: "string", value: "DURATION", help: "base latency of each call (default 0)" },
    "latency-per-text": {
      type: "string",
      value: "DURATION",
      help: "latency added per text (default 0)",
    },
    "latency-jitter": {
      type: "string",
      value: "DURATION",
      help: "most random latency added (default 0)",
    },
    "error-500": { type: "string", value: "P", help: "probability of 500 INTERNAL (default 0)" },
    "error-503": { type: "string", value: "P", help: "probability of 503 UNAVAILABLE (default 0)" },
    hang: { type: "string", value: "P", help: "probability a call never answers (default 0)" },
    drop: { type: "string", value: "P", help: "probability the connection drops (default 0)" },
    "wrong-count": {
      type: "string",
      value: "P",
      help: "probability of one vector missing (default 0)",
    },
    "latency-spike": {
      type: "string",
      value: "P:DURATION",
      help: "probability and length of a latency spike, e.g. 0.05:2s",
    },
    seed: { type: "string", value: "N", help: "seed of the fault and jitter draws (default 0)" },
    "batch-pending": {
      type: "string",
      value: "DURATION",
      help: "Batch API: how long a new job stays pending (default 2s)",
    },
    "batch-running": {
      type: "string",
      value: "DURATION",
      help: "Batch API: how long a job then runs (default 3s)",
    },
    "batch-error-lines": {
      type: "string",
      value: "P",
      help: "Batch API: share of result lines that are 500 errors (default 0)",
    },
    "batch-fail-jobs": {
      type: "string",
      value: "N,..",
      help: "Batch API: jobs, by creation order from 1, that end FAILED",
    },
    "batch-expire-jobs": {
      type: "string",
      value: "N,..",
      help: "Batch API: jobs, by creation order from 1, that end EXPIRED",
    },
    "batch-max-enqueued": {
      type: "string",
      value: "N",
      help: "Batch API: most tokens in unfinished jobs, else create gets 429 (tier 1: 500000)",
    },
  } satisfies Record<string, SimulatorFlag>,
);

/**
 * The `options` to give `node:util` `parseArgs` for the simulator's flags.
 *
 * @param prefix Put before each flag name, such as `"simulate-"`.
 * @returns The option specs, by prefixed name.
 *
 * @example Usage
 * ```ts
 * import { simulatorFlagOptions } from "./flags.ts";
 * import { parseArgs } from "node:util";
 * import assert from "node:assert/strict";
 *
 * const { values } = parseArgs({
 *   args: ["--simulate-rpm", "10"],
 *   options: simulatorFlagOptions("simulate-"),
 * });
 * assert.equal(values["simulate-rpm"], "10");
 * ```
 */
export function simulatorFlagOptions(
  prefix = "",
): Record<string, { type: "string" | "boolean" }> {
  return Object.fromEntries(
    Object.entries(SIMULATOR_FLAGS).map(([name, { type }]) => [`${prefix}${name}`, { type }]),
  );
}

/**
 * The help lines of the simulator's flags, aligned, one flag a line.
 *
 * @param prefix Put before each flag name, such as `"simulate-"`.
 * @param indent Put before each line.
 * @returns The lines, joined with newlines.
 *
 * @example Usage
 * ```ts
 * import { simulatorFlagsHelp } from "./flags.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(simulatorFlagsHelp("simulate-"), /--simulate-rpm N +requests per minute/);
 * ```
 */
export function simulatorFlagsHelp(prefix = "", indent = "  "): string {
  const heads = Object.entries(SIMULATOR_FLAGS).map(([name, { value }]) =>
    `--${prefix}${name}${value === undefined ? "" : ` ${value}`}`
  );
  const width = Math.max(...heads.map((head) => head.length)) + 2;
  return Object.values(SIMULATOR_FLAGS)
    .map(({ help }, i) => `${indent}${heads[i]!.padEnd(width)}${help}`)
    .join("\n");
}

/**
 * Turns parsed flag values into simulator options, validating each.
 * `--free-tier` sets `rpm`, `tpm` and the latency model of Gemini's free
 * tier; a flag given alongside it wins.
 *
 * @param values The `values` from `parseArgs` with {@linkcode simulatorFlagOptions}.
 * @param prefix The prefix given to {@linkcode simulatorFlagOptions}.
 * @returns The options for `createSimulatorHandler` or `startSimulator`.
 * @throws {RangeError} If a value is malformed or out of range; the message
 * names the flag and the received value, like `Invalid --simulate-rpm:
 * expected a whole number of at least 1, received "0"`.
 * @throws {TypeError} If a value has the wrong type (a boolean for a string flag).
 *
 * @example Usage
 * ```ts
 * import { simulatorFlagOptions, simulatorOptionsFromFlags } from "./flags.ts";
 * import { parseArgs } from "node:util";
 * import assert from "node:assert/strict";
 *
 * const { values } = parseArgs({
 *   args: ["--simulate-rpm", "10", "--simulate-error-503", "0.1", "--simulate-latency", "50ms"],
 *   options: simulatorFlagOptions("simulate-"),
 * });
 * assert.deepEqual(simulatorOptionsFromFlags(values, "simulate-"), {
 *   rpm: 10,
 *   latency: { baseMs: 50 },
 *   faults: { error503: 0.1 },
 * });
 * assert.throws(
 *   () => simulatorOptionsFromFlags({ "simulate-rpm": "0" }, "simulate-"),
 *   { name: "RangeError", message: 'Invalid --simulate-rpm: expected a whole number of at least 1, received "0"' },
 * );
 * ```
 */
export function simulatorOptionsFromFlags(
  values: Readonly<Record<string, unknown>>,
  prefix = "",
): SimulatorHandlerOptions {
  const get = (name: string): string | undefined => {
    const value = values[`${prefix}${name}`];
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      throw new TypeError(
        `Invalid --${prefix}${name}: expected a string value, received ${JSON.stringify(value)}`,
      );
    }
    return value;
  };
  const fail = (name: string, expected: string, value: string): never => {
    throw new RangeError(`Invalid --${prefix}${name}: expected ${expected}, received "${value}"`);
  };
  const integer = (name: string, min: number): number | undefined => {
    const value = get(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      fail(name, `a whole number of at least ${min}`, value);
    }
    return n;
  };
  const duration = (name: string, text = get(name)): number | undefined => {
    if (text === undefined) return undefined;
    let ms = NaN;
    try {
      ms = parseDuration(text);
    } catch { /* reported below */ }
    if (!Number.isFinite(ms)) fail(name, 'a finite duration like "250ms" or "2s"', text);
    return ms;
  };
  const probability = (name: string, text = get(name)): number | undefined => {
    if (text === undefined) return undefined;
    const p = Number(text);
    if (text.trim() === "" || !(p >= 0 && p <= 1)) {
      fail(name, "a probability from 0 to 1", text);
    }
    return p;
  };

  const freeTier = values[`${prefix}free-tier`];
  if (freeTier !== undefined && typeof freeTier !== "boolean") {
    throw new TypeError(
      `Invalid --${prefix}free-tier: expected a boolean, received ${JSON.stringify(freeTier)}`,
    );
  }
  const options: SimulatorHandlerOptions = {};
  const rpm = integer("rpm", 1) ?? (freeTier ? 100 : undefined);
  if (rpm !== undefined) options.rpm = rpm;
  const tpm = integer("tpm", 1) ?? (freeTier ? 30_000 : undefined);
  if (tpm !== undefined) options.tpm = tpm;
  const maxInputTokens = integer("max-input-tokens", 1);
  if (maxInputTokens !== undefined) options.maxInputTokens = maxInputTokens;

  const baseMs = duration("latency") ?? (freeTier ? GEMINI_LATENCY.baseMs : undefined);
  const perTextMs = duration("latency-per-text") ??
    (freeTier ? GEMINI_LATENCY.perTextMs : undefined);
  const jitterMs = duration("latency-jitter") ?? (freeTier ? GEMINI_LATENCY.jitterMs : undefined);
  if (baseMs !== undefined || perTextMs !== undefined || jitterMs !== undefined) {
    options.latency = {
      ...(baseMs !== undefined && { baseMs }),
      ...(perTextMs !== undefined && { perTextMs }),
      ...(jitterMs !== undefined && { jitterMs }),
    };
  }

  const faults: SimulatorFaults = {};
  const kinds = [
    ["error-500", "error500"],
    ["error-503", "error503"],
    ["hang", "hang"],
    ["drop", "drop"],
    ["wrong-count", "wrongCount"],
  ] as const;
  let sum = 0;
  for (const [flag, field] of kinds) {
    const p = probability(flag);
    if (p !== undefined) {
      faults[field] = p;
      sum += p;
    }
  }
  const spike = get("latency-spike");
  if (spike !== undefined) {
    const [p, ms, extra] = spike.split(":");
    if (p === undefined || ms === undefined || extra !== undefined) {
      fail("latency-spike", 'a probability and a duration like "0.05:2s"', spike);
    }
    const probabilityOfSpike = probability("latency-spike", p)!;
    faults.latencySpike = {
      probability: probabilityOfSpike,
      ms: duration("latency-spike", ms)!,
    };
    sum += probabilityOfSpike;
  }
  if (sum > 1 + 1e-9) {
    throw new RangeError(
      `Invalid fault flags: the probabilities of --${prefix}error-500, --${prefix}error-503, --${prefix}hang, --${prefix}drop, --${prefix}wrong-count and --${prefix}latency-spike must add up to at most 1, received ${sum}`,
    );
  }
  if (Object.keys(faults).length > 0) options.faults = faults;

  const seed = integer("seed", -(2 ** 31));
  if (seed !== undefined) options.seed = seed;

  const jobs = (name: string): number[] | undefined => {
    const value = get(name);
    if (value === undefined) return undefined;
    const list = value.split(",").map((item) => Number(item.trim()));
    if (!list.every((n) => Number.isInteger(n) && n >= 1)) {
      fail(name, "job numbers from 1, separated by commas, like 1,5", value);
    }
    return list;
  };
  const batch: BatchSimulatorOptions = {};
  const pendingMs = duration("batch-pending");
  if (pendingMs !== undefined) batch.pendingMs = pendingMs;
  const runningMs = duration("batch-running");
  if (runningMs !== undefined) batch.runningMs = runningMs;
  const errorLineRate = probability("batch-error-lines");
  if (errorLineRate !== undefined) batch.errorLineRate = errorLineRate;
  const failJobs = jobs("batch-fail-jobs");
  if (failJobs !== undefined) batch.failJobs = failJobs;
  const expireJobs = jobs("batch-expire-jobs");
  if (expireJobs !== undefined) batch.expireJobs = expireJobs;
  const maxEnqueuedTokens = integer("batch-max-enqueued", 1);
  if (maxEnqueuedTokens !== undefined) batch.maxEnqueuedTokens = maxEnqueuedTokens;
  if (seed !== undefined && Object.keys(batch).length > 0) batch.seed = seed;
  if (Object.keys(batch).length > 0) options.batch = batch;
  return options;
}
