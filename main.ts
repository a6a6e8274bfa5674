/**
 * The embatch command line: `deno run --allow-net --allow-env main.ts`.
 *
 * With `--input FILE` (or `-` for stdin) it embeds a corpus into `--output`,
 * one JSON record per input; see `workload.ts` and `--help`. Otherwise it runs
 * the demo below.
 *
 * With no flags it runs the classic demo: 100 inputs arriving with random
 * delays of 0–300 ms, batched by 8 with a 1 s timeout, printing each batch as
 * it forms and each input's embedding as it comes back. Without an API key it
 * runs against the in-process Gemini simulator.
 *
 * @module
 */

import { parseCliArgs, USAGE, UsageError } from "./cli_args.ts";
import { demoInputs } from "./demo.ts";
import { redactSecret } from "./errors.ts";
import { GeminiEmbedder } from "./gemini.ts";
import { runPipeline } from "./pipeline.ts";
import { startSimulator } from "./simulator.ts";
import type { Batch } from "./batcher.ts";
import type { WritableSink } from "./output.ts";
import { runWorkload } from "./workload.ts";

/** Where the CLI writes and what it reads from its environment; replaceable in tests. */
export interface MainIO {
  /** Writes one line of results. */
  stdout(line: string): void;
  /** Writes one line of diagnostics. */
  stderr(line: string): void;
  /** Reads an environment variable (`undefined` when unset or not permitted). */
  env(name: string): string | undefined;
  /** Aborted when the user interrupts the run (Ctrl-C, SIGTERM). */
  signal?: AbortSignal;
  /** Where `--input -` reads from; `Deno.stdin.readable` when unset. */
  stdin?: ReadableStream<Uint8Array>;
  /** Where `--output -` records go; `Deno.stdout` when unset. */
  output?: WritableSink;
  /** Writes text to stderr as is, for the live progress line; `Deno.stderr` when unset. */
  stderrText?: (text: string) => void;
  /** Whether stderr is a terminal (live progress line); asks `Deno.stderr` when unset. */
  stderrIsTerminal?: boolean;
}

const encoder = new TextEncoder();

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/** The real process's streams and environment. */
export const processIO: MainIO = {
  stdout: (line) => void Deno.stdout.writeSync(encoder.encode(line + "\n")),
  stderr: (line) => void Deno.stderr.writeSync(encoder.encode(line + "\n")),
  env: readEnv,
};

function describe(batch: Batch<unknown>): string {
  const count = `${batch.items.length} input${batch.items.length === 1 ? "" : "s"}`;
  switch (batch.reason) {
    case "size":
      return `${count} (full)`;
    case "timeout":
      return `${count} (timed out after ${batch.emittedAt - batch.openedAt} ms)`;
    case "end":
      return `${count} (final: input ended)`;
  }
}

function formatVector(vector: readonly number[], shown = 3): string {
  const head = vector.slice(0, shown).map((v) => v.toFixed(4)).join(", ");
  return vector.length > shown ? `[${head}, … ${vector.length - shown} more]` : `[${head}]`;
}

/**
 * Runs the CLI and resolves with its exit code: 0 on success, 1 on a failed
 * run, 2 on a usage error, 130 when interrupted.
 *
 * @param args The arguments, without the program name.
 * @param io Output streams, environment and interruption.
 * @returns The process exit code.
 *
 * @example Printing the help text
 * ```ts
 * import { main } from "./main.ts";
 * import assert from "node:assert/strict";
 *
 * const out: string[] = [];
 * const code = await main(["--help"], { stdout: (l) => void out.push(l), stderr: () => {}, env: () => undefined });
 * assert.equal(code, 0);
 * assert.match(out.join("\n"), /--batch-size/);
 * ```
 */
export async function main(args: string[], io: MainIO = processIO): Promise<number> {
  let options;
  try {
    options = parseCliArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`embatch: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (options.input !== undefined) return await runWorkload(options, io);

  const apiKey = io.env("GOOGLE_API_KEY") ?? io.env("GEMINI_API_KEY");
  if (options.baseUrl && apiKey === undefined && !options.simulate) {
    io.stderr(
      `embatch: --base-url needs an API key: set GEMINI_API_KEY (any value works for a simulator)\n\n${USAGE}`,
    );
    return 2;
  }
  const simulate = options.simulate || apiKey === undefined;
  const simulator = simulate ? startSimulator(options.simulator) : undefined;
  if (simulator) {
    io.stderr(
      options.simulate
        ? `embatch: using the local Gemini simulator at ${simulator.url} (--simulate)`
        : `embatch: no GEMINI_API_KEY set, so using the local Gemini simulator at ${simulator.url}.\n` +
          `         To call the real API: GEMINI_API_KEY=<your key> deno run --allow-net --allow-env main.ts`,
    );
  }

  const started = Date.now();
  const clock = () => `[${((Date.now() - started) / 1000).toFixed(3).padStart(7)}s]`;
  try {
    const embedder = new GeminiEmbedder({
      model: options.model,
      outputDimensionality: options.dimensions ?? 3,
      ...(simulator ? { apiKey: "simulator", baseUrl: simulator.url } : { apiKey: apiKey! }),
      ...(!simulator && options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    });
    const timeoutText = options.timeoutMs === Infinity ? "none" : `${options.timeoutMs} ms`;
    io.stdout(
      `embatch: ${options.inputs} inputs, ${
        options.adaptive ? "adaptive batches up to " : "batch size "
      }${options.batchSize}, ${options.adaptive ? "max wait" : "timeout"} ${timeoutText}, ` +
        `delays 0-${options.maxDelayMs} ms (seed ${options.seed}), model ${options.model}`,
    );
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
      ...(io.signal ? { signal: io.signal } : {}),
      onBatch: (batch) => io.stdout(`${clock()} Batch ${batch.index + 1}: ${describe(batch)}`),
      write: (out) =>
        io.stdout(
          out.ok
            ? `Content: ${out.text} -> Embedding: ${formatVector(out.embedding)}`
            : `Content: ${out.text} -> Error: ${out.error.code}: ${out.error.message}`,
        ),
    });
    const b = summary.batches;
    io.stdout(
      `${clock()} Done: ${summary.items} inputs in ${b.total} batches ` +
        `(${b.size} full, ${b.timeout} timed out, ${b.end} final), ${summary.calls} API calls, ` +
        `${(summary.elapsedMs / 1000).toFixed(2)} s`,
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

if (import.meta.main) {
  const interrupt = new AbortController();
  const onSignal = () => {
    if (interrupt.signal.aborted) Deno.exit(130); // a second Ctrl-C exits at once
    interrupt.abort(new DOMException("Interrupted", "AbortError"));
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const name of signals) Deno.addSignalListener(name, onSignal);
  const code = await main(Deno.args, { ...processIO, signal: interrupt.signal });
  for (const name of signals) Deno.removeSignalListener(name, onSignal);
  Deno.exit(code);
}
