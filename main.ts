/**
 * The embatch command line: `deno run --allow-net --allow-env main.ts`.
 *
 * With no flags it runs the classic demo: 100 inputs arriving with random
 * delays of 0–300 ms, batched by 8 with a 1 s timeout, printing each batch as
 * it forms and each input's embedding as it comes back (`cli/demo.ts`).
 * Without an API key it runs against the in-process Gemini simulator.
 *
 * With `--input FILE` (or `-` for stdin) it embeds a corpus into `--output`,
 * one JSON record per input (`cli/corpus.ts`). `--help` lists every flag.
 *
 * `main.ts serve` runs the batching embedding server (`cli/serve.ts`):
 * Gemini REST and OpenAI-compatible endpoints in front of one shared quota.
 *
 * @module
 */

import {
  EXIT,
  HELP_HINT,
  type MainIO,
  parseCliArgs,
  processIO,
  runBatchCorpus,
  runCorpus,
  runDemo,
  runServe,
  USAGE,
  UsageError,
} from "./cli/mod.ts";

export { EXIT, type MainIO, processIO, type WritableSink } from "./cli/mod.ts";

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
  if (args[0] === "serve") return await runServe(args.slice(1), io);
  let options;
  try {
    options = parseCliArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`embatch: ${error.message}\n${HELP_HINT}`);
    return EXIT.usage;
  }
  if (options.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (options.input !== undefined) {
    return await (options.batchApi ? runBatchCorpus(options, io) : runCorpus(options, io));
  }
  return await runDemo(options, io);
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
