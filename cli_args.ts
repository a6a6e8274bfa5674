/**
 * Command-line flags of `main.ts`: parsing, validation and the usage text.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration } from "./duration.ts";

/**
 * Thrown for a bad flag or value. `main.ts` prints its message and the usage
 * text, then exits with code 2.
 *
 * @example Usage
 * ```ts
 * import { parseCliArgs, UsageError } from "./cli_args.ts";
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

/** The CLI's settings once parsed and validated. */
export interface CliOptions {
  /** Show the help text and exit. */
  help: boolean;
  /** The most inputs in one batch (one API call). */
  batchSize: number;
  /** The longest a batch's first input waits, in milliseconds. */
  timeoutMs: number;
  /** How many demo inputs to generate. */
  inputs: number;
  /** The longest random delay before each demo input, in milliseconds. */
  maxDelayMs: number;
  /** Dimensions of each embedding (`outputDimensionality`). */
  dimensions: number;
  /** The Gemini embedding model. */
  model: string;
  /** Base URL of the Gemini API (or of a simulator); unset means the SDK's default. */
  baseUrl: string | undefined;
  /** Use the in-process simulator even when an API key is set. */
  simulate: boolean;
  /** Seed for the demo's arrival delays. */
  seed: number;
  /** Simulated call latency in milliseconds (simulator only). */
  simulateLatencyMs: number;
}

/** The usage text printed by `--help` and after a usage error. */
export const USAGE: string = `Usage: deno run --allow-net --allow-env main.ts [options]

Batches a stream of inputs into calls to the Gemini Embedding API and prints
each batch as it forms and each input's embedding as it arrives. With
GEMINI_API_KEY (or GOOGLE_API_KEY) set it calls Gemini; otherwise it runs
against a local simulator of the API.

Options:
  --batch-size N        most inputs per API call, 1-100            (default 8)
  --timeout DURATION    longest a batch's first input waits         (default 1s)
                        e.g. 250ms, 1s, 1.5s, or "inf" for size-only batches
  --inputs N            number of demo inputs input-0 … input-N-1   (default 100)
  --max-delay DURATION  longest random delay before each input      (default 300ms)
  --seed N              seed for the random delays (same seed, same arrivals)
  --dimensions N        embedding dimensions, 1-3072                (default 3)
  --model NAME          embedding model                  (default gemini-embedding-001)
  --base-url URL        Gemini API base URL (or set GOOGLE_GEMINI_BASE_URL)
  --simulate            use the local simulator even if an API key is set
  --simulate-latency DURATION
                        simulated latency of each API call          (default 50ms)
  -h, --help            show this help

Examples:
  deno run --allow-net --allow-env main.ts
  deno run --allow-net --allow-env main.ts --batch-size 16 --timeout 500ms --seed 7
  GEMINI_API_KEY=... deno run --allow-net --allow-env main.ts --dimensions 768`;

function integer(
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

function duration(
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

function url(flag: string, value: string | undefined): string | undefined {
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

/**
 * Parses and validates the command-line flags.
 *
 * @param args The arguments, without the program name (`Deno.args`).
 * @returns The validated settings, with defaults filled in.
 * @throws {UsageError} If a flag is unknown, lacks its value, or has an impossible value.
 *
 * @example Usage
 * ```ts
 * import { parseCliArgs } from "./cli_args.ts";
 * import assert from "node:assert/strict";
 *
 * const options = parseCliArgs(["--batch-size", "16", "--timeout", "250ms"]);
 * assert.equal(options.batchSize, 16);
 * assert.equal(options.timeoutMs, 250);
 * assert.equal(options.inputs, 100);
 * ```
 */
export function parseCliArgs(args: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        "batch-size": { type: "string" },
        timeout: { type: "string" },
        inputs: { type: "string" },
        "max-delay": { type: "string" },
        seed: { type: "string" },
        dimensions: { type: "string" },
        model: { type: "string" },
        "base-url": { type: "string" },
        simulate: { type: "boolean" },
        "simulate-latency": { type: "string" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
  const model = values.model ?? "gemini-embedding-001";
  if (!/^[\w.-]+$/.test(model.replace(/^models\//, ""))) {
    throw new UsageError(
      `Invalid --model: expected a model name like gemini-embedding-001, received "${model}"`,
    );
  }
  return {
    help: values.help ?? false,
    batchSize: integer("batch-size", values["batch-size"], 8, 1, 100),
    timeoutMs: duration("timeout", values.timeout, 1000, true),
    inputs: integer("inputs", values.inputs, 100, 0, Number.MAX_SAFE_INTEGER),
    maxDelayMs: duration("max-delay", values["max-delay"], 300),
    seed: integer("seed", values.seed, Math.floor(Math.random() * 1_000_000), 0, 2 ** 31 - 1),
    dimensions: integer("dimensions", values.dimensions, 3, 1, 3072),
    model,
    baseUrl: url("base-url", values["base-url"]),
    simulate: values.simulate ?? false,
    simulateLatencyMs: duration("simulate-latency", values["simulate-latency"], 50),
  };
}
