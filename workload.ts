/**
 * The CLI's corpus run (`main.ts --input …`): reads the corpus line by line,
 * embeds it through the pipeline, and writes one record per input, in input
 * order, with bounded memory (each stage waits for the next: a slow API or a
 * slow disk slows the reading down instead of filling memory).
 *
 * @module
 */

import { now } from "./_clock.ts";
import { Deque } from "./_deque.ts";
import { LatencyHistogram } from "./_histogram.ts";
import { IdSet } from "./_id_set.ts";
import type { BatchReason } from "./batcher.ts";
import type { CliOptions } from "./cli_args.ts";
import type { Embedder } from "./embedder.ts";
import { type EmbeddingError, GeminiApiError, redactSecret } from "./errors.ts";
import { EmbeddingMetrics } from "./metrics.ts";
import { GeminiEmbedder } from "./gemini.ts";
import { formatFromPath, type InputError, type InputText, readInputs } from "./input.ts";
import type { MainIO } from "./main.ts";
import { formatRecord, JsonlWriter, type RecordError, type WritableSink } from "./output.ts";
import { runPipeline } from "./pipeline.ts";
import { ProgressReporter } from "./progress.ts";
import { prepareResume, type ResumeState } from "./resume.ts";
import { startSimulator } from "./simulator.ts";

/** Exit codes of a corpus run. */
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

/** Bad lines reported one by one on stderr before the rest are only counted. */
const NOTED_BAD_LINES = 10;
/** Error records held back behind inputs still being embedded before reading pauses. */
const MAX_HELD_ERRORS = 10_000;

interface Counts {
  read: number;
  embedded: number;
  errors: number;
  errorsByCode: Map<string, number>;
  skipped: number;
  blank: number;
  repeated: number;
  tokens: number;
  batches: Record<BatchReason, number>;
  readBytes: number;
}

/** An input on its way through the pipeline. */
interface Pending extends InputText {
  readAt: number;
}

/**
 * Runs the corpus embedding described by `options` and resolves with the exit
 * code; prints its own diagnostics.
 *
 * @param options The parsed flags, with `input` set.
 * @param io Streams, environment and interruption.
 * @returns The exit code, one of {@linkcode EXIT}.
 */
export async function runWorkload(options: CliOptions, io: MainIO): Promise<number> {
  const input = options.input ?? "-";
  const say = (line: string) => io.stderr(line);

  const apiKey = io.env("GOOGLE_API_KEY") ?? io.env("GEMINI_API_KEY");
  if (!options.simulate && apiKey === undefined) {
    say(
      "embatch: --input needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), " +
        "or pass --simulate to embed with the local simulator (its vectors are not Gemini's)",
    );
    return EXIT.usage;
  }
  const secret = options.simulate ? undefined : apiKey;

  // The input, opened before anything is written.
  let source: ReadableStream<Uint8Array>;
  let totalBytes: number | undefined;
  let inputFile: Deno.FsFile | undefined;
  if (input === "-") {
    source = io.stdin ?? Deno.stdin.readable;
  } else {
    try {
      inputFile = await Deno.open(input, { read: true });
      const info = await inputFile.stat();
      if (info.isDirectory) throw new Error("it is a directory");
      totalBytes = info.isFile ? info.size : undefined;
      source = inputFile.readable;
    } catch (error) {
      inputFile?.close();
      say(`embatch: cannot read --input ${input}: ${describeFileError(error)}`);
      return EXIT.usage;
    }
  }
  const format = options.format ?? (input === "-" ? "text" : formatFromPath(input));

  // The output: checked, repaired for --resume, then opened.
  let resume: ResumeState | undefined;
  let outputFile: Deno.FsFile | undefined;
  const output = options.output;
  const setupFailed = (message: string) => {
    say(message);
    inputFile?.close();
    return EXIT.usage;
  };
  if (output !== "-") {
    if (options.resume) {
      try {
        resume = await prepareResume(output, {
          ...(options.dimensions !== undefined && { dimensions: options.dimensions }),
        });
      } catch (error) {
        return setupFailed(
          error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
            ? `embatch: cannot resume --output ${output}: ${describeFileError(error)}`
            : `embatch: ${(error as Error).message}`,
        );
      }
    } else if (!options.overwrite) {
      try {
        const info = await Deno.stat(output);
        if (!info.isFile || info.size > 0) {
          return setupFailed(
            `embatch: --output ${output} already exists: pass --resume to continue it, or --overwrite to replace it`,
          );
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          return setupFailed(
            `embatch: cannot write --output ${output}: ${describeFileError(error)}`,
          );
        }
      }
    }
    try {
      outputFile = await Deno.open(output, {
        write: true,
        create: true,
        ...(options.resume ? { append: true } : { truncate: true }),
      });
    } catch (error) {
      return setupFailed(`embatch: cannot write --output ${output}: ${describeFileError(error)}`);
    }
  }
  const sink: WritableSink = outputFile ?? io.output ?? Deno.stdout;
  const writer = new JsonlWriter(sink, { bufferSize: 1 << 16, flushInterval: 1000 });

  const simulator = options.simulate ? startSimulator(options.simulator) : undefined;
  const counts: Counts = {
    read: 0,
    embedded: 0,
    errors: 0,
    errorsByCode: new Map(),
    skipped: 0,
    blank: 0,
    repeated: 0,
    tokens: 0,
    batches: { size: 0, timeout: 0, end: 0 },
    readBytes: 0,
  };
  const latency = new LatencyHistogram();
  const metrics = new EmbeddingMetrics();
  const startedAt = now();

  const writeText = io.stderrText ?? ((text: string) => {
    Deno.stderr.writeSync(new TextEncoder().encode(text));
  });
  const progress = options.quiet ? undefined : new ProgressReporter({
    stats: () => ({
      done: counts.embedded + counts.errors,
      errors: counts.errors,
      skipped: counts.skipped,
      bytes: counts.readBytes,
      totalBytes,
      retries: metrics.summary().retries,
      rateLimited: metrics.summary().rateLimited,
    }),
    write: writeText,
    terminal: io.stderrIsTerminal ?? Deno.stderr.isTerminal(),
    ...(!(io.stderrIsTerminal ?? Deno.stderr.isTerminal()) &&
      { interval: options.progressIntervalMs }),
  });
  const note = (line: string) => {
    if (options.quiet) return;
    if (progress) progress.note(line);
    else say(line);
  };

  const where = simulator
    ? `the local simulator at ${simulator.url} (--simulate)`
    : `${options.model} at ${options.baseUrl ?? "the Gemini API"}`;
  note(
    `embatch: embedding ${input === "-" ? "stdin" : input} (${format}` +
      `${totalBytes !== undefined ? `, ${(totalBytes / 1e6).toFixed(1)} MB` : ""}) with ${where}` +
      ` into ${output === "-" ? "stdout" : output}`,
  );
  if (resume) note(describeResume(output, resume));

  // Bad lines and embedded inputs reach the writer in input order: an error
  // record waits in `held` until every input read before it has been written.
  const held = new Deque<{ before: number; record: InputError }>();
  let sent = 0;
  let written = 0;
  let wakeReader: (() => void) | undefined;
  const writeError = (id: string | number, error: RecordError): Promise<void> => {
    counts.errors++;
    counts.errorsByCode.set(error.code, (counts.errorsByCode.get(error.code) ?? 0) + 1);
    return writer.write(formatRecord(id, { error }));
  };
  const releaseHeld = () => {
    while (held.length > 0 && held.peek()!.before <= written) {
      const { record } = held.shift()!;
      // A failed write is kept by the writer and thrown by the next awaited call.
      writeError(record.id, record.error).catch(() => {});
    }
    if (wakeReader && held.length < MAX_HELD_ERRORS / 2) {
      wakeReader();
      wakeReader = undefined;
    }
  };

  let badLines = 0;
  const noteBad = (message: string) => {
    badLines++;
    if (badLines <= NOTED_BAD_LINES) note(`embatch: ${message}`);
    if (badLines === NOTED_BAD_LINES + 1) {
      note("embatch: more bad lines follow; they are counted in the summary, not shown");
    }
  };

  const stopReading = new AbortController();
  const seen = new IdSet();
  async function* inputs(): AsyncGenerator<Pending, void, undefined> {
    try {
      const records = readInputs(source, {
        format,
        textField: options.textField,
        signal: stopReading.signal,
        onBlankLine: () => void counts.blank++,
      });
      for await (const record of records) {
        counts.read++;
        counts.readBytes = record.end;
        if (resume?.done.has(record.id)) {
          counts.skipped++;
          continue;
        }
        if (!seen.add(record.id)) {
          counts.repeated++;
          noteBad(
            `line ${record.line + 1}: id ${
              JSON.stringify(record.id)
            } was already used by an earlier line; this line is skipped`,
          );
          continue;
        }
        if (!record.ok) {
          noteBad(record.error.message);
          if (written === sent) {
            await writeError(record.id, record.error);
          } else {
            held.push({ before: sent, record });
            // Waiting is safe only if the batcher will flush by itself.
            if (held.length >= MAX_HELD_ERRORS && Number.isFinite(options.timeoutMs)) {
              await new Promise<void>((resolve) => wakeReader = resolve);
            }
          }
          continue;
        }
        sent++;
        yield { ...record, readAt: now() };
      }
    } catch (error) {
      if (!(stopReading.signal.aborted && error === stopReading.signal.reason)) throw error;
    }
  }

  let embedder: Embedder;
  try {
    embedder = new GeminiEmbedder({
      model: options.model,
      ...(options.dimensions !== undefined && { outputDimensionality: options.dimensions }),
      ...(options.taskType !== undefined && { taskType: options.taskType }),
      ...(simulator
        ? { apiKey: "simulator", baseUrl: simulator.url }
        : { apiKey: apiKey!, ...(options.baseUrl !== undefined && { baseUrl: options.baseUrl }) }),
    });
  } catch (error) {
    await simulator?.close();
    outputFile?.close();
    return setupFailed(`embatch: ${redactSecret(String(error), secret)}`);
  }
  // A failed write ends the run: stop reading too, even a read waiting on a
  // pipe, so that the pipeline can wind down.
  const stopOnFailure = (error: unknown): never => {
    stopReading.abort(error);
    throw error;
  };
  let fatal: Error | undefined;

  // Ctrl-C: stop reading, let the calls in flight finish for `graceMs`, then abort them.
  const hardStop = new AbortController();
  let interrupted = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const interruption = new DOMException("Interrupted", "AbortError");
  const onInterrupt = () => {
    interrupted = true;
    note(
      `embatch: interrupted: reading stopped, finishing the calls in flight (at most ${
        options.graceMs / 1000
      } s); press Ctrl-C again to exit at once`,
    );
    stopReading.abort(interruption);
    graceTimer = setTimeout(() => hardStop.abort(interruption), options.graceMs);
  };
  if (io.signal?.aborted) onInterrupt();
  else io.signal?.addEventListener("abort", onInterrupt, { once: true });

  progress?.start();
  let failure: string | undefined;
  try {
    await runPipeline<Pending>({
      inputs: inputs(),
      embedder,
      batchSize: options.batchSize,
      metrics,
      ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
      ...(options.rpm !== undefined && { rpm: options.rpm }),
      ...(options.tpm !== undefined && { tpm: options.tpm }),
      ...(options.maxAttempts !== undefined && { retry: { maxAttempts: options.maxAttempts } }),
      timeout: options.timeoutMs,
      strategy: options.adaptive ? "adaptive" : "fixed",
      text: (item) => item.text,
      signal: hardStop.signal,
      onBatch: (batch) => void counts.batches[batch.reason]++,
      write: (out) => {
        if (fatal !== undefined) return;
        const { item } = out;
        let pending: Promise<void>;
        if (out.ok) {
          pending = writer.write(formatRecord(item.id, { embedding: out.embedding }));
          counts.embedded++;
          counts.tokens += estimateTokens(item.text);
        } else if (isFatal(out.error)) {
          // Every other call would fail the same way: stop instead of writing errors.
          fatal = new Error(redactSecret(describeItemError(out.error), secret));
          stopReading.abort(fatal);
          hardStop.abort(fatal);
          return;
        } else {
          const { code, message, status, attempts } = out.error;
          pending = writeError(item.id, {
            code,
            message: redactSecret(message, secret),
            ...(status !== undefined && { status }),
            attempts,
          });
        }
        written++;
        latency.record(now() - item.readAt);
        releaseHeld();
        return pending.catch(stopOnFailure);
      },
    });
    releaseHeld(); // error records after the last embedded input
  } catch (error) {
    if (fatal !== undefined && error === fatal) {
      failure = fatal.message;
    } else if (!(hardStop.signal.aborted && error === hardStop.signal.reason)) {
      failure = redactSecret(describeError(error), secret);
    }
  } finally {
    clearTimeout(graceTimer);
    io.signal?.removeEventListener("abort", onInterrupt);
    stopReading.abort(); // release the input if the run ended early
  }

  try {
    await writer.close();
    await outputFile?.syncData();
  } catch (error) {
    failure ??= `cannot write ${output === "-" ? "stdout" : output}: ${describeFileError(error)}`;
  }
  outputFile?.close();
  await simulator?.close();
  progress?.stop();

  if (failure !== undefined) say(`embatch: ${failure}`);
  if (!options.quiet) {
    say(
      summarize(counts, metrics, latency, now() - startedAt, interrupted, failure !== undefined),
    );
  }
  if (interrupted) return EXIT.interrupted;
  if (failure !== undefined) return EXIT.failed;
  return counts.errors > 0 ? EXIT.partial : EXIT.ok;
}

/** Gemini counts roughly one token per four characters of English. */
function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function describeResume(output: string, state: ResumeState): string {
  if (!state.exists) {
    return `embatch: --resume: ${output} does not exist yet; starting from the top`;
  }
  const parts = [`${n(state.embedded)} embedded records kept`];
  if (state.errors > 0) parts.push(`${n(state.errors)} error records dropped to be retried`);
  if (state.duplicates > 0) parts.push(`${n(state.duplicates)} repeated records dropped`);
  if (state.tornBytes > 0) {
    parts.push(`an unfinished last line (${n(state.tornBytes)} bytes) cut off`);
  }
  return `embatch: resuming ${output}: ${parts.join(", ")}`;
}

function summarize(
  counts: Counts,
  metrics: EmbeddingMetrics,
  latency: LatencyHistogram,
  elapsedMs: number,
  interrupted: boolean,
  failed: boolean,
): string {
  const seconds = elapsedMs / 1000;
  const state = interrupted ? "interrupted" : failed ? "stopped" : "done";
  const byCode = [...counts.errorsByCode].map(([code, k]) => `${code} ${n(k)}`).join(", ");
  const b = counts.batches;
  const total = b.size + b.timeout + b.end;
  const stats = metrics.summary();
  const ms = (value: number) => `${value.toFixed(0)} ms`;
  const stage = stats.itemLatencyMs;
  const lines = [
    `embatch: ${state} after ${seconds.toFixed(1)} s: ${n(counts.read)} inputs read, ` +
    `${n(counts.embedded)} embedded, ${n(counts.errors)} errors${byCode ? ` (${byCode})` : ""}`,
    `  skipped: ${n(counts.skipped)} already embedded (--resume), ${
      n(counts.blank)
    } blank lines, ` +
    `${n(counts.repeated)} repeated ids`,
    `  batches: ${n(total)} (${n(b.size)} full, ${n(b.timeout)} timed out, ${n(b.end)} final), ` +
    `${n(stats.calls)} API calls (${n(stats.retries)} retries, ${
      n(stats.rateLimited)
    } answered 429), ` +
    `~${n(counts.tokens)} tokens (estimated)`,
    `  throughput: ${n(Math.round(counts.embedded / Math.max(seconds, 0.001)))} inputs/s; ` +
    `latency per input: embedding p50 ${ms(stage.p50)}, p95 ${ms(stage.p95)}, p99 ${
      ms(stage.p99)
    }; ` +
    `read to written p50 ${ms(latency.quantile(0.5))}, p95 ${ms(latency.quantile(0.95))}, ` +
    `p99 ${ms(latency.quantile(0.99))}`,
  ];
  if (counts.errors > 0 && !interrupted && !failed) {
    lines.push("  the error records are retried by running again with --resume");
  }
  if (interrupted || failed) lines.push("  run again with --resume to continue");
  return lines.join("\n");
}

function n(value: number): string {
  return value.toLocaleString("en-US");
}

/** An item error that every later call would repeat: a bad key, model or permission. */
function isFatal(error: EmbeddingError): boolean {
  return error.status === 401 || error.status === 403 || error.status === 404 ||
    error.code === "PERMISSION_DENIED" || error.code === "UNAUTHENTICATED" ||
    (error.status === 400 && /api key/i.test(error.message));
}

function describeItemError(error: EmbeddingError): string {
  const status = error.status === undefined ? "" : `${error.status} `;
  return `the API answered ${status}${error.code}: ${error.message}`;
}

function describeError(error: unknown): string {
  if (error instanceof GeminiApiError) {
    return `the API answered ${error.status} ${error.code}: ${error.message}`;
  }
  if (!(error instanceof Error)) return String(error);
  // fetch's "fetch failed" says why only in its cause (a DNS or connection error).
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}

function describeFileError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) {
    return `not permitted (${
      error.message.replace(/, run again with.*$/, "")
    }): grant it with --allow-read/--allow-write`;
  }
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  return error instanceof Error ? error.message : String(error);
}
