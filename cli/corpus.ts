/**
 * The CLI's corpus run (`main.ts --input …`): reads the corpus line by line,
 * embeds it through the pipeline, and writes one record per input, in input
 * order, with bounded memory (each stage waits for the next: a slow API or a
 * slow disk slows the reading down instead of filling memory).
 *
 * The run's steps, each in its own place: check the key, open input and output
 * and prepare `--resume` (`_files.ts`), build the embedder, run
 * ({@linkcode CorpusRun}), report (`_summary.ts`).
 *
 * @module
 */

import { runCachedPipeline } from "../cache/cached_pipeline.ts";
import { keyToHex } from "../cache/key.ts";
import type { BatchReason } from "../batcher.ts";
import type { CacheStats, EmbeddingCache } from "../cache/embedding_cache.ts";
import { dirname } from "node:path";
import type { Embedder, EmbedInput } from "../embedder.ts";
import { CircuitOpenError, redactSecret } from "../errors.ts";
import { CircuitBreaker } from "../resilience/circuit_breaker.ts";
import { ResilientEmbedder } from "../resilience/resilient_embedder.ts";
import type { EmbeddingResult } from "../resilience/resilient_embedder.ts";
import { GeminiEmbedder } from "../gemini/embedder.ts";
import { loadMediaFiles } from "../gemini/media_files.ts";
import { type ModelProfile, modelProfile } from "../gemini/models.ts";
import { plannedTokens, planRequest } from "../gemini/request.ts";
import { estimateTokens as textTokens } from "../resilience/tokens.ts";
import { Deque } from "../internal/deque.ts";
import { LatencyHistogram } from "../internal/histogram.ts";
import { now } from "../internal/clock.ts";
import { EmbeddingMetrics } from "../metrics.ts";
import { runPipeline } from "../pipeline.ts";
import { startSimulator } from "../simulator/server.ts";
import type { CliOptions } from "./args.ts";
import type { InputError, InputErrorCode, InputId, InputRecord, InputText } from "./input.ts";
import { readInputGroups } from "./input.ts";
import { EXIT, type MainIO } from "./io.ts";
import { formatRecord, JsonlWriter, type RecordError } from "./output.ts";
import { ProgressReporter } from "./progress.ts";
import {
  type CorpusInput,
  type CorpusOutput,
  openInput,
  openOutput,
  SetupError,
} from "./_files.ts";
import { describeError, describeFileError, describeItemError, isFatal } from "./_describe.ts";
import { IdSet } from "./_id_set.ts";
import { apiEndpoint } from "./_endpoint.ts";
import { describeResume, estimateTokens, newCounts, summarize } from "./_summary.ts";
import { type CacheCounts, describeCacheUse, keyContext, openCache } from "./_cache.ts";

/** Bad lines reported one by one on stderr before the rest are only counted. */
const NOTED_BAD_LINES = 10;
/** Error records held back behind inputs still being embedded before reading pauses. */
const MAX_HELD_ERRORS = 10_000;

/** An input on its way through the pipeline. */
interface Pending extends InputText {
  /** When the chunk holding its line was read: where its latencies start. */
  readAt: number;
  /** What is sent: the text, or a content with its title and media. */
  input: EmbedInput;
}

/** A result as the pipeline (with or without the cache) hands it to the writer. */
type Outcome = EmbeddingResult & {
  item: Pending;
  /** With --cache: the input's cache key (none for a line with files), whether it was a hit, whether it shared a call. */
  key?: Uint8Array | undefined;
  cached?: boolean;
  shared?: boolean;
};

/**
 * Runs the corpus embedding described by `options` and resolves with the exit
 * code; prints its own diagnostics.
 *
 * @param options The parsed flags, with `input` set.
 * @param io Streams, environment and interruption.
 * @returns The exit code, one of {@linkcode EXIT}.
 *
 * @example Embedding two lines of stdin with the simulator
 * ```ts
 * import { runCorpus } from "./corpus.ts";
 * import { parseCliArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 *
 * const records: string[] = [];
 * const decoder = new TextDecoder();
 * const code = await runCorpus(
 *   parseCliArgs(["--input", "-", "--simulate", "--dimensions", "4", "--quiet"]),
 *   {
 *     stdout: () => {},
 *     stderr: () => {},
 *     env: () => undefined,
 *     stdin: ReadableStream.from([new TextEncoder().encode("alpha\nbeta\n")]),
 *     output: { write: (bytes) => Promise.resolve(records.push(decoder.decode(bytes)) && bytes.length) },
 *   },
 * );
 * assert.equal(code, 0);
 * assert.equal(records.join("").trim().split("\n").length, 2);
 * ```
 */
export async function runCorpus(options: CliOptions, io: MainIO): Promise<number> {
  const apiKey = io.env("GOOGLE_API_KEY") ?? io.env("GEMINI_API_KEY");
  if (!options.simulate && apiKey === undefined) {
    io.stderr(
      "embatch: --input needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), " +
        "or pass --simulate to embed with the local simulator (its vectors are not Gemini's)",
    );
    return EXIT.usage;
  }
  const secret = options.simulate ? undefined : apiKey;
  // The cache first: a file that is not a cache stops the run before the output is touched.
  const cache = options.cache === undefined ? undefined : await openCache(options, io);
  if (typeof cache === "string") {
    io.stderr(cache);
    return EXIT.usage;
  }
  const files = await openFiles(options, io);
  if (typeof files === "string") {
    cache?.close();
    io.stderr(files);
    return EXIT.usage;
  }
  options = files.output.options; // with what a resumed file was made with
  const simulator = options.simulate ? startSimulator(options.simulator) : undefined;
  let embedder: Embedder;
  try {
    embedder = buildEmbedder(options, simulator ? undefined : apiKey, simulator?.url);
  } catch (error) {
    await simulator?.close();
    cache?.close();
    files.output.file?.close();
    files.input.file?.close();
    io.stderr(`embatch: ${redactSecret(String(error), secret)}`);
    return EXIT.usage;
  }
  const endpoint = apiEndpoint(options, io, simulator?.url);
  const where = simulator
    ? `the local simulator at ${simulator.url} (--simulate)`
    : `${options.model} at ${endpoint.url}${endpoint.from ? ` (${endpoint.from})` : ""}`;
  const run = new CorpusRun(
    options,
    io,
    files.input,
    files.output,
    secret,
    cache,
    endpoint.host,
  );
  try {
    return await run.run(embedder, where);
  } finally {
    await simulator?.close();
  }
}

/**
 * A `TOKEN_LIMIT` record's message, with the CLI's way out: `--truncate`
 * (a `--resume` alone would fail the same way).
 */
function tokenLimitHint(message: string): string {
  const base = message.replace(/\s*\(set truncate[^)]*\)\s*$/, "");
  return `${base}: run with --truncate to embed the start of such texts (or raise --max-input-tokens)`;
}

/** Opens input then output; a setup failure is returned as the line to print. */
async function openFiles(
  options: CliOptions,
  io: MainIO,
): Promise<{ input: CorpusInput; output: CorpusOutput } | string> {
  let input: CorpusInput | undefined;
  try {
    input = await openInput(options, io);
    return { input, output: await openOutput(options, io, input) };
  } catch (error) {
    input?.file?.close();
    if (error instanceof SetupError) return error.message;
    throw error;
  }
}

function buildEmbedder(
  options: CliOptions,
  apiKey: string | undefined,
  simulatorUrl: string | undefined,
): Embedder {
  return new GeminiEmbedder({
    model: options.model,
    normalize: options.normalize,
    ...(options.dimensions !== undefined && { outputDimensionality: options.dimensions }),
    ...(options.taskType !== undefined && { taskType: options.taskType }),
    ...(simulatorUrl !== undefined
      ? { apiKey: "simulator", baseUrl: simulatorUrl }
      : { apiKey: apiKey!, ...(options.baseUrl !== undefined && { baseUrl: options.baseUrl }) }),
  });
}

/**
 * One corpus run from open files to exit code: reads records, holds bad
 * lines' error records until every input read before them is written (so
 * records stay in input order), drives the pipeline, and handles Ctrl-C
 * (stop reading, let calls in flight finish for `--grace`, then abort).
 */
class CorpusRun {
  readonly #options: CliOptions;
  readonly #io: MainIO;
  readonly #input: CorpusInput;
  readonly #output: CorpusOutput;
  readonly #secret: string | undefined;
  readonly #breaker: CircuitBreaker;
  #resilient: ResilientEmbedder | undefined;
  readonly #counts = newCounts();
  readonly #latency = new LatencyHistogram();
  readonly #metrics = new EmbeddingMetrics();
  readonly #writer: JsonlWriter;
  readonly #progress: ProgressReporter | undefined;
  readonly #startedAt = now();
  /** Error records waiting for the inputs read before them (`before` of them) to be written. */
  readonly #held = new Deque<{ before: number; record: InputError }>();
  readonly #seen = new IdSet();
  /**
   * One entry per line handed to the writer and not yet on disk: `undefined`
   * for an embedding, else the error code. A line is counted only once the
   * writer has written it, so a full disk never inflates the summary.
   */
  readonly #unwritten = new Deque<string | undefined>();
  #counted = 0;
  /** The write failure, named after the output file, once one happened. */
  #writeFailure: Error | undefined;
  readonly #stopReading = new AbortController();
  readonly #hardStop = new AbortController();
  #sent = 0;
  #written = 0;
  /** The last time read by `#writeTime`, with the batch and written-line count it holds for. */
  #clock: { batch: unknown; lines: number; time: number } = { batch: undefined, lines: 0, time: 0 };
  #badLines = 0;
  #wakeReader: (() => void) | undefined;
  #fatal: Error | undefined;
  #interrupted = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #cache: EmbeddingCache | undefined;
  readonly #profile: ModelProfile;
  /** Where relative `"file"` paths start: the input file's directory. */
  readonly #baseDir: string;
  readonly #cacheCounts: CacheCounts = { hits: 0, misses: 0, shared: 0, savedTokens: 0 };
  #cacheStats: CacheStats | undefined;

  constructor(
    options: CliOptions,
    io: MainIO,
    input: CorpusInput,
    output: CorpusOutput,
    secret: string | undefined,
    cache: EmbeddingCache | undefined,
    host: string,
  ) {
    this.#cache = cache;
    this.#profile = modelProfile(options.model);
    this.#baseDir = options.input === undefined || options.input === "-"
      ? "."
      : dirname(options.input);
    this.#breaker = new CircuitBreaker({
      host,
      ...(options.maxOutageMs !== undefined && { maxOutage: options.maxOutageMs }),
    });
    this.#options = options;
    this.#io = io;
    this.#input = input;
    this.#output = output;
    this.#secret = secret;
    this.#writer = new JsonlWriter(output.sink, { bufferSize: 1 << 16, flushInterval: 1000 });
    this.#progress = options.quiet ? undefined : this.#newProgress();
  }

  /** Runs to the end (or a failure or interruption), closes the files, and reports. */
  async run(embedder: Embedder, where: string): Promise<number> {
    const { name, format, totalBytes } = this.#input;
    this.#note(
      `embatch: embedding ${name} (${format}` +
        `${
          totalBytes !== undefined ? `, ${(totalBytes / 1e6).toFixed(1)} MB` : ""
        }) with ${where}` +
        ` into ${this.#output.name}`,
    );
    if (this.#profile.notice !== undefined) this.#note(this.#profile.notice);
    if (this.#output.resume) this.#note(describeResume(this.#output.name, this.#output.resume));
    const signal = this.#io.signal;
    if (signal?.aborted) this.#onInterrupt();
    else signal?.addEventListener("abort", this.#onInterrupt, { once: true });
    this.#progress?.start();
    let failure: string | undefined;
    try {
      await this.#embed(embedder);
    } catch (error) {
      failure = this.#describeFailure(error);
    } finally {
      clearTimeout(this.#graceTimer);
      signal?.removeEventListener("abort", this.#onInterrupt);
      this.#stopReading.abort(); // release the input if the run ended early
    }
    failure = await this.#close(failure);
    return this.#report(failure);
  }

  async #embed(embedder: Embedder): Promise<void> {
    const options = this.#options;
    // Built here rather than by runPipeline, so that progress can read its quota limiter.
    this.#resilient = new ResilientEmbedder(embedder, {
      metrics: this.#metrics,
      ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
      ...(options.rpm !== undefined && { rpm: options.rpm }),
      ...(options.tpm !== undefined && { tpm: options.tpm }),
      ...(options.maxAttempts !== undefined && { retry: { maxAttempts: options.maxAttempts } }),
      ...(options.callTimeoutMs !== undefined && { callTimeout: options.callTimeoutMs }),
      ...(options.maxInputTokens !== undefined && { maxInputTokens: options.maxInputTokens }),
      truncate: options.truncate,
      circuitBreaker: this.#breaker,
    });
    const pipeline = {
      inputs: this.#inputs(),
      embedder: this.#resilient,
      batchSize: options.batchSize,
      ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
      timeout: options.timeoutMs,
      strategy: options.adaptive ? "adaptive" as const : "fixed" as const,
      text: (item: Pending) => item.input,
      entryTime: (item: Pending) => item.readAt,
      signal: this.#hardStop.signal,
      onBatch: (batch: { reason: BatchReason }) => void this.#counts.batches[batch.reason]++,
      write: (out: Outcome) => this.#write(out),
    };
    if (this.#cache === undefined) {
      await runPipeline<Pending>(pipeline);
    } else {
      // Hits are answered before the batcher and never take a batch slot.
      await runCachedPipeline<Pending>({
        ...pipeline,
        cache: this.#cache,
        context: keyContext(options),
      });
    }
    this.#releaseHeld(); // error records after the last embedded input
  }

  /** The records to embed; bad lines and repeats are handled here and never reach the pipeline. */
  async *#inputs(): AsyncGenerator<Pending, void, undefined> {
    const counts = this.#counts;
    try {
      // A chunk's records at a time: one async step per chunk, not per line.
      const groups = readInputGroups(this.#input.source, {
        format: this.#input.format,
        textField: this.#options.textField,
        titleField: this.#options.titleField,
        signal: this.#stopReading.signal,
        onBlankLine: () => void counts.blank++,
      });
      for await (const group of groups) {
        // The lines of a chunk were read together: one clock read for all of them.
        const readAt = now();
        for (const record of group) {
          counts.read++;
          counts.readBytes = record.end;
          if (!this.#admit(record)) continue;
          if (!record.ok) {
            await this.#badRecord(record);
            continue;
          }
          // The common case, a plain text, costs no await per line.
          const input = record.files === undefined &&
              (this.#options.taskType !== "RETRIEVAL_DOCUMENT" || record.title === undefined)
            ? record.text
            : await this.#contentOf(record);
          if (typeof input === "object" && "code" in input) {
            await this.#badRecord({
              ok: false,
              id: record.id,
              line: record.line,
              error: input,
              end: record.end,
            });
            continue;
          }
          this.#sent++;
          const pending = record as Pending;
          pending.input = input;
          pending.readAt = readAt;
          yield pending;
        }
      }
    } catch (error) {
      const stop = this.#stopReading.signal;
      if (!(stop.aborted && error === stop.reason)) throw error;
    }
  }

  /**
   * What to send for a line: its text alone, or a content with its title
   * (for a document task type) and its files, checked against the model's
   * limits; or the error record's code and message.
   */
  async #contentOf(
    record: InputText,
  ): Promise<EmbedInput | { code: InputErrorCode; message: string }> {
    const options = this.#options;
    const title = options.taskType === "RETRIEVAL_DOCUMENT" ? record.title : undefined;
    if (record.files === undefined && title === undefined) return record.text;
    const where = `line ${record.line + 1}`;
    const content = { text: record.text, ...(title !== undefined && { title }) };
    if (record.files === undefined) return content;
    const media = await loadMediaFiles(record.files, this.#baseDir, this.#profile);
    if (!Array.isArray(media)) return { code: media.code, message: `${where}: ${media.message}` };
    return { ...content, media };
  }

  /** The estimated tokens of what was sent for an input: its text with the task instruction, and its media. */
  #sentTokens(item: Pending): number {
    // A plain text with no task type is sent as it is: no plan to make.
    if (typeof item.input === "string" && this.#options.taskType === undefined) {
      return textTokens(item.input); // what plannedTokens counts for it
    }
    try {
      return plannedTokens(planRequest(this.#profile, item.input, this.#options.taskType));
    } catch {
      return estimateTokens(item.text);
    }
  }

  /** Whether a record is new: not done by an earlier run, and its id not used by an earlier line. */
  #admit(record: InputRecord): boolean {
    if (this.#output.resume?.done.has(record.id)) {
      this.#counts.skipped++;
      return false;
    }
    if (this.#seen.add(record.id)) return true;
    this.#counts.repeated++;
    this.#noteBad(
      `line ${record.line + 1}: id ${
        typeof record.id === "bigint" ? String(record.id) : JSON.stringify(record.id)
      } was already used by an earlier line; this line is skipped`,
    );
    return false;
  }

  /** Writes a bad line's error record now, or holds it until the inputs before it are written. */
  async #badRecord(record: InputError): Promise<void> {
    this.#noteBad(record.error.message);
    if (this.#written === this.#sent) {
      await this.#writeError(record.id, record.error);
      return;
    }
    this.#held.push({ before: this.#sent, record });
    // Waiting is safe only if the batcher will flush by itself.
    if (this.#held.length >= MAX_HELD_ERRORS && Number.isFinite(this.#options.timeoutMs)) {
      await new Promise<void>((resolve) => this.#wakeReader = resolve);
    }
  }

  /** The pipeline's writer: one record per input, in input order. */
  #write(out: Outcome): Promise<void> | undefined {
    if (this.#fatal !== undefined) return;
    this.#countWritten(); // keeps the not-yet-written list as short as the writer's buffer
    const { item } = out;
    let pending: Promise<void>;
    if (out.cached !== undefined) this.#countCacheUse(out);
    if (out.ok) {
      // The result itself is the record's content, unless there is a cache key to add.
      pending = this.#writer.write(formatRecord(
        item.id,
        out.key === undefined ? out : { embedding: out.embedding, cacheKey: keyToHex(out.key) },
      ));
      this.#unwritten.push(undefined);
      if (!out.cached && !out.shared) this.#counts.tokens += this.#sentTokens(item);
    } else if (isFatal(out.error)) {
      // Every other call would fail the same way: stop instead of writing errors.
      this.#fatal = new Error(redactSecret(describeItemError(out.error), this.#secret));
      this.#stopReading.abort(this.#fatal);
      this.#hardStop.abort(this.#fatal);
      return;
    } else {
      const { code, message, status, attempts } = out.error;
      pending = this.#writeError(item.id, {
        code,
        message: redactSecret(
          code === "TOKEN_LIMIT" && !this.#options.truncate ? tokenLimitHint(message) : message,
          this.#secret,
        ),
        ...(status !== undefined && { status }),
        attempts,
      });
    }
    this.#written++;
    this.#latency.record(this.#writeTime(out) - item.readAt);
    this.#releaseHeld();
    return pending.catch((error) => {
      // A failed write ends the run: stop reading too, even a read waiting on a pipe.
      this.#writeFailure ??= new Error(
        `cannot write ${this.#output.name}: ${describeFileError(error)}`,
        { cause: error },
      );
      this.#stopReading.abort(this.#writeFailure);
      throw this.#writeFailure;
    });
  }

  /**
   * The time an input's record was written: read once for the items of one
   * batch written back to back (no wait between them: no batch change and no
   * flush completed since), else read afresh.
   */
  #writeTime(out: Outcome): number {
    const batch = (out as { batch?: unknown }).batch;
    const lines = this.#writer.linesWritten;
    if (batch === undefined || batch !== this.#clock.batch || lines !== this.#clock.lines) {
      this.#clock = { batch, lines, time: now() };
    }
    return this.#clock.time;
  }

  #countCacheUse(out: Outcome): void {
    const counts = this.#cacheCounts;
    if (out.cached) counts.hits++;
    else counts.misses++;
    if (out.shared) counts.shared++;
    if (out.ok && (out.cached || out.shared)) counts.savedTokens += estimateTokens(out.item.text);
  }

  #writeError(id: InputId, error: RecordError): Promise<void> {
    this.#unwritten.push(error.code);
    return this.#writer.write(formatRecord(id, { error }));
  }

  /** Counts the records the writer has put on disk since the last call. */
  #countWritten(): void {
    const counts = this.#counts;
    for (; this.#counted < this.#writer.linesWritten; this.#counted++) {
      const code = this.#unwritten.shift();
      if (code === undefined) {
        counts.embedded++;
        continue;
      }
      counts.errors++;
      counts.errorsByCode.set(code, (counts.errorsByCode.get(code) ?? 0) + 1);
    }
  }

  #releaseHeld(): void {
    while (this.#held.length > 0 && this.#held.peek()!.before <= this.#written) {
      const { record } = this.#held.shift()!;
      // A failed write is kept by the writer and thrown by the next awaited call.
      this.#writeError(record.id, record.error).catch(() => {});
    }
    if (this.#wakeReader && this.#held.length < MAX_HELD_ERRORS / 2) {
      this.#wakeReader();
      this.#wakeReader = undefined;
    }
  }

  #onInterrupt = (): void => {
    this.#interrupted = true;
    this.#note(
      `embatch: interrupted: reading stopped, finishing the calls in flight (at most ${
        this.#options.graceMs / 1000
      } s); press Ctrl-C again to exit at once`,
    );
    const interruption = new DOMException("Interrupted", "AbortError");
    this.#stopReading.abort(interruption);
    this.#graceTimer = setTimeout(() => this.#hardStop.abort(interruption), this.#options.graceMs);
  };

  #describeFailure(error: unknown): string | undefined {
    if (this.#fatal !== undefined && error === this.#fatal) return this.#fatal.message;
    if (this.#writeFailure !== undefined && error === this.#writeFailure) {
      return this.#writeFailure.message;
    }
    if (error instanceof CircuitOpenError) {
      const advice = error.kind === "unreachable"
        ? "check --base-url (or GOOGLE_GEMINI_BASE_URL) and the network"
        : "the inputs not yet embedded are not done: run again with --resume once the API is back";
      return redactSecret(`${error.message}; ${advice}`, this.#secret);
    }
    const stop = this.#hardStop.signal;
    if (stop.aborted && error === stop.reason) return undefined;
    return redactSecret(describeError(error), this.#secret);
  }

  /** Flushes and closes the files; a failure to do so is the run's failure if it had none. */
  async #close(failure: string | undefined): Promise<string | undefined> {
    try {
      await this.#writer.close();
      await this.#output.file?.syncData();
    } catch (error) {
      failure ??= `cannot write ${this.#output.name}: ${describeFileError(error)}`;
    }
    this.#countWritten();
    this.#output.file?.close();
    try {
      this.#cacheStats = this.#cache?.stats();
      this.#cache?.close();
    } catch (error) {
      failure ??= `cannot write --cache ${this.#cache!.path}: ${describeError(error)}`;
    }
    this.#progress?.stop();
    return failure;
  }

  #report(failure: string | undefined): number {
    if (failure !== undefined) this.#io.stderr(`embatch: ${failure}`);
    if (!this.#options.quiet) {
      this.#io.stderr(
        summarize(
          this.#counts,
          this.#metrics,
          this.#latency,
          now() - this.#startedAt,
          this.#interrupted,
          failure !== undefined,
          this.#options.truncate,
        ),
      );
      if (this.#cache && this.#cacheStats) {
        this.#io.stderr(
          describeCacheUse(
            this.#cacheCounts,
            this.#cache.path,
            this.#cacheStats,
            this.#options.model,
          ),
        );
      }
    }
    if (this.#interrupted) return EXIT.interrupted;
    if (failure !== undefined) return EXIT.failed;
    return this.#counts.errors > 0 ? EXIT.partial : EXIT.ok;
  }

  #newProgress(): ProgressReporter {
    const io = this.#io;
    const terminal = io.stderrIsTerminal ?? Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    return new ProgressReporter({
      stats: () => (this.#countWritten(), {
        done: this.#counts.embedded + this.#counts.errors,
        errors: this.#counts.errors,
        skipped: this.#counts.skipped,
        bytes: this.#counts.readBytes,
        totalBytes: this.#input.totalBytes,
        retries: this.#metrics.summary().retries,
        rateLimited: this.#metrics.summary().rateLimited,
        waiting: this.#waiting(),
      }),
      write: io.stderrText ?? ((text: string) => void Deno.stderr.writeSync(encoder.encode(text))),
      terminal,
      ...(!terminal && { interval: this.#options.progressIntervalMs }),
    });
  }

  /** What the run is waiting for right now, if anything: an outage or the quota. */
  #waiting(): string | undefined {
    const breaker = this.#breaker.state;
    const time = now();
    if (breaker.waiting && breaker.failingSince !== undefined) {
      return `API unreachable for ${clock(time - breaker.failingSince)} (${breaker.reason}), ` +
        `retrying until ${clock(breaker.maxOutageMs)}`;
    }
    const limiter = this.#resilient?.limiter;
    if (limiter === undefined) return undefined;
    if (limiter.pausedUntil > time) {
      return `quota: paused by a 429 for ${clock(limiter.pausedUntil - time)} more`;
    }
    if (limiter.waiting > 0) return `quota: ${limiter.waiting} calls waiting for --rpm/--tpm`;
    return undefined;
  }

  #note(line: string): void {
    if (this.#options.quiet) return;
    if (this.#progress) this.#progress.note(line);
    else this.#io.stderr(line);
  }

  #noteBad(message: string): void {
    this.#badLines++;
    if (this.#badLines <= NOTED_BAD_LINES) this.#note(`embatch: ${message}`);
    if (this.#badLines === NOTED_BAD_LINES + 1) {
      this.#note("embatch: more bad lines follow; they are counted in the summary, not shown");
    }
  }
}

/** `0:42`, `5:00`, `1:02:03`: a duration for the progress line. */
function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
