/**
 * The classic demo's input stream: `input-0` … `input-N` arriving with random
 * delays, reproducible from a seed.
 *
 * @module
 */

import type { Batch } from "../batcher.ts";
import { redactSecret } from "../errors.ts";
import { GeminiEmbedder } from "../gemini/embedder.ts";
import { seededRandom } from "../internal/random.ts";
import { sleep } from "../internal/sleep.ts";
import { runPipeline } from "../pipeline.ts";
import { startSimulator } from "../simulator/server.ts";
import { type CliOptions, HELP_HINT } from "./args.ts";
import type { MainIO } from "./io.ts";

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

function describe(batch: Batch<unknown>): string {
  const count = `${batch.items.length} input${batch.items.length === 1 ? "" : "s"}`;
  switch (batch.reason) {
    case "size":
      return `${count} (full)`;
    case "timeout":
      return `${count} (timed out after ${Math.round(batch.emittedAt - batch.openedAt)} ms)`;
    case "end":
      return `${count} (final: input ended)`;
  }
}

function formatVector(vector: readonly number[], shown = 3): string {
  const head = vector.slice(0, shown).map((v) => v.toFixed(4)).join(", ");
  return vector.length > shown ? `[${head}, … ${vector.length - shown} more]` : `[${head}]`;
}

/**
 * Runs the classic demo: {@linkcode demoInputs} through the pipeline, printing
 * each batch as it forms and each input's embedding as it comes back. Without
 * an API key it runs against the in-process Gemini simulator.
 *
 * @param options The parsed flags (no `--input`).
 * @param io Output streams, environment and interruption.
 * @returns The exit code: 0, 1 when an input got no embedding or the run failed, 2, 130.
 *
 * @example A small demo against the simulator
 * ```ts
 * import { runDemo } from "./demo.ts";
 * import { parseCliArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 *
 * const out: string[] = [];
 * const options = parseCliArgs(["--inputs", "3", "--max-delay", "0ms", "--simulate"]);
 * const code = await runDemo(options, { stdout: (l) => void out.push(l), stderr: () => {}, env: () => undefined });
 * assert.equal(code, 0);
 * assert.equal(out.filter((l) => l.startsWith("Content:")).length, 3);
 * ```
 */
export async function runDemo(options: CliOptions, io: MainIO): Promise<number> {
  const apiKey = io.env("GOOGLE_API_KEY") ?? io.env("GEMINI_API_KEY");
  if (options.baseUrl && apiKey === undefined && !options.simulate) {
    io.stderr(
      `embatch: --base-url needs an API key: set GEMINI_API_KEY (any value works for a simulator)\n${HELP_HINT}`,
    );
    return 2;
  }
  const simulator = demoSimulator(options, io, apiKey);

  const started = Date.now();
  const clock = () => `[${((Date.now() - started) / 1000).toFixed(3).padStart(7)}s]`;
  try {
    const embedder = new GeminiEmbedder({
      model: options.model,
      outputDimensionality: options.dimensions ?? 3,
      normalize: options.normalize,
      ...(options.taskType !== undefined && { taskType: options.taskType }),
      ...(simulator ? { apiKey: "simulator", baseUrl: simulator.url } : { apiKey: apiKey! }),
      ...(!simulator && options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    });
    if (embedder.profile.notice !== undefined) io.stderr(embedder.profile.notice);
    io.stdout(describeDemo(options));
    const departures: number[] = []; // when each batch (one call) left
    const summary = await runPipeline({
      inputs: demoInputs({
        count: options.inputs,
        maxDelayMs: options.maxDelayMs,
        seed: options.seed,
        ...(io.signal ? { signal: io.signal } : {}),
      }),
      embedder,
      batchSize: options.batchSize,
      timeout: options.timeoutMs,
      strategy: options.adaptive ? "adaptive" : "fixed",
      ...(options.rpm !== undefined && { rpm: options.rpm }),
      ...(options.tpm !== undefined && { tpm: options.tpm }),
      ...(io.signal ? { signal: io.signal } : {}),
      onBatch: (batch) => {
        departures.push(batch.emittedAt);
        io.stdout(`${clock()} Batch ${batch.index + 1}: ${describe(batch)}`);
      },
      write: (out) =>
        io.stdout(
          out.ok
            ? `Content: ${out.text} -> Embedding: ${formatVector(out.embedding)}`
            : `Content: ${out.text} -> Error: ${out.error.code}: ${out.error.message}`,
        ),
    });
    const b = summary.batches;
    const peak = peakPerMinute(departures);
    io.stdout(
      `${clock()} Done: ${summary.items} inputs in ${b.total} batches ` +
        `(${b.size} full, ${b.timeout} timed out, ${b.end} final), ${summary.calls} API calls, ` +
        `${(summary.elapsedMs / 1000).toFixed(2)} s; at most ${peak} batches in any minute` +
        (options.rpm !== undefined ? ` (budget ${options.rpm} calls/min)` : "") +
        `, ${summary.rateLimited} calls refused with 429`,
    );
    if (summary.failed > 0) {
      io.stderr(`embatch: ${summary.failed} of ${summary.items} inputs got no embedding`);
      return 1;
    }
    return 0;
  } catch (error) {
    if (io.signal?.aborted && error === io.signal.reason) {
      io.stderr(`embatch: interrupted`);
      return 130;
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr(`embatch: ${redactSecret(message, apiKey)}`);
    return 1;
  } finally {
    await simulator?.close();
  }
}

/** Starts the simulator when asked to or when there is no key, and says so. */
function demoSimulator(options: CliOptions, io: MainIO, apiKey: string | undefined) {
  if (!options.simulate && apiKey !== undefined) return undefined;
  const simulator = startSimulator(options.simulator);
  io.stderr(
    options.simulate
      ? `embatch: using the local Gemini simulator at ${simulator.url} (--simulate)`
      : `embatch: no GEMINI_API_KEY set, so using the local Gemini simulator at ${simulator.url}.\n` +
        `         To call the real API: GEMINI_API_KEY=<your key> deno run --allow-net --allow-env main.ts`,
  );
  return simulator;
}

/** The demo's first line: what it is about to do. */
function describeDemo(options: CliOptions): string {
  const timeoutText = options.timeoutMs === Infinity ? "none" : `${options.timeoutMs} ms`;
  return `embatch: ${options.inputs} inputs, ${
    options.adaptive ? "adaptive batches up to " : "batch size "
  }${options.batchSize}, ${options.adaptive ? "max wait" : "timeout"} ${timeoutText}, ` +
    `delays 0-${options.maxDelayMs} ms (seed ${options.seed}), model ${options.model}` +
    (options.taskType === undefined ? "" : `, task ${options.taskType}`);
}

/** The most departures (sorted times in ms) in any 60-second window. */
function peakPerMinute(departures: readonly number[]): number {
  let peak = 0;
  for (let i = 0, j = 0; i < departures.length; i++) {
    while (departures[i]! - departures[j]! >= 60_000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}
