/**
 * What the command line reads and writes, replaceable in tests, and its exit codes.
 *
 * @module
 */

import type { WritableSink } from "./output.ts";

/** The CLI's exit codes. */
export const EXIT = {
  /** Every input has an embedding. */
  ok: 0,
  /** The run failed (an API or disk error stopped it). */
  failed: 1,
  /** A bad flag, file or missing key: nothing ran. */
  usage: 2,
  /** The run finished, but some records are errors. */
  partial: 3,
  /** Interrupted by Ctrl-C or SIGTERM. */
  interrupted: 130,
} as const;

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
