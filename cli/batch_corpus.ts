/**
 * The CLI's `--batch-api` corpus run: reads the corpus as an online run does
 * (same formats, ids and bad-line records), embeds it through Gemini's Batch
 * API with {@linkcode embedWithBatchApi}, and writes one record per id, in the
 * order jobs finish. A journal beside the output makes it resumable; Ctrl-C
 * detaches from the jobs, which keep running at Google.
 *
 * @module
 */

import { cancelBatchJobs } from "../batch/cancel_jobs.ts";
import {
  type BatchInput,
  type BatchProgress,
  embedWithBatchApi,
} from "../batch/embed_with_batch_api.ts";
import { BatchJournalError, Journal } from "../batch/journal.ts";
import { redactSecret } from "../errors.ts";
import { startSimulator } from "../simulator/server.ts";
import type { CliOptions } from "./args.ts";
import { type InputId, readInputs } from "./input.ts";
import { apiEndpoint } from "./_endpoint.ts";
import { EXIT, type MainIO } from "./io.ts";
import { formatRecord, JsonlWriter, type RecordError } from "./output.ts";
import {
  type CorpusInput,
  type CorpusOutput,
  openInput,
  openOutput,
  SetupError,
} from "./_files.ts";
import { type BatchCounts, formatBatchProgress, summarizeBatch } from "./_batch_report.ts";
import { describeError } from "./_describe.ts";
import { IdSet } from "./_id_set.ts";
import { describeResume } from "./_summary.ts";

/**
 * The journal file of a `--batch-api` run writing to `output`.
 *
 * @param output The `--output` path.
 * @returns The path beside it.
 *
 * @example Beside the output
 * ```ts
 * import { batchJournalPath } from "./batch_corpus.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(batchJournalPath("out/vectors.jsonl"), "out/vectors.jsonl.batch-journal.jsonl");
 * ```
 */
export function batchJournalPath(output: string): string {
  return `${output}.batch-journal.jsonl`;
}

/**
 * Runs the `--batch-api` corpus embedding (or `--cancel-jobs`) described by
 * `options` and resolves with the exit code; prints its own diagnostics.
 *
 * @param options The parsed flags, with `input`, `output` and `batchApi` set.
 * @param io Streams, environment and interruption.
 * @returns The exit code, one of {@linkcode EXIT}.
 *
 * @example Embedding two lines with the simulator's Batch API
 * ```ts
 * import { runBatchCorpus } from "./batch_corpus.ts";
 * import { parseCliArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/in.txt`, "alpha\nbeta\n");
 * const code = await runBatchCorpus(
 *   parseCliArgs([
 *     "--input", `${dir}/in.txt`, "--output", `${dir}/out.jsonl`, "--batch-api", "--simulate",
 *     "--simulate-batch-pending", "10ms", "--simulate-batch-running", "10ms",
 *     "--poll-interval", "20ms", "--dimensions", "4", "--quiet",
 *   ]),
 *   { stdout: () => {}, stderr: () => {}, env: () => undefined },
 * );
 * assert.equal(code, 0);
 * const records = (await Deno.readTextFile(`${dir}/out.jsonl`)).trim().split("\n");
 * assert.deepEqual(records.map((line) => JSON.parse(line).id).sort(), [0, 1]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runBatchCorpus(options: CliOptions, io: MainIO): Promise<number> {
  const apiKey = io.env("GOOGLE_API_KEY") ?? io.env("GEMINI_API_KEY");
  if (!options.simulate && apiKey === undefined) {
    io.stderr(
      "embatch: --batch-api needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), " +
        "or pass --simulate to run the jobs on the local simulator",
    );
    return EXIT.usage;
  }
  const journal = batchJournalPath(options.output);
  const simulator = options.simulate ? startSimulator(options.simulator) : undefined;
  const client = simulator
    ? { apiKey: "simulator", baseUrl: simulator.url }
    : { apiKey: apiKey!, ...(options.baseUrl !== undefined && { baseUrl: options.baseUrl }) };
  const secret = simulator ? undefined : apiKey;
  try {
    if (options.cancelJobs) return await cancel(client, journal, io, secret);
    const refusal = await checkJournal(journal, options.resume);
    if (refusal !== undefined) {
      io.stderr(refusal);
      return EXIT.usage;
    }
    let input: CorpusInput | undefined;
    let output: CorpusOutput;
    try {
      input = await openInput(options, io);
      output = await openOutput(options, io, input);
    } catch (error) {
      input?.file?.close();
      if (!(error instanceof SetupError)) throw error;
      io.stderr(error.message);
      return EXIT.usage;
    }
    const where = simulator
      ? `the local simulator's Batch API at ${simulator.url} (--simulate)`
      : `${options.model} through the Batch API at ${endpointName(options, io)}`;
    // With --resume, the settings the output was made with.
    return await new BatchCorpusRun(output.options, io, input, output, journal, secret)
      .run(client, where);
  } finally {
    await simulator?.close();
  }
}

async function cancel(
  client: { apiKey: string; baseUrl?: string },
  journal: string,
  io: MainIO,
  secret: string | undefined,
): Promise<number> {
  try {
    const { cancelled, notCreated } = await cancelBatchJobs({ ...client, journal });
    io.stderr(
      `embatch: --cancel-jobs: ${cancelled} jobs cancelled` +
        (notCreated > 0 ? `, ${notCreated} planned jobs dropped before creation` : "") +
        `; --resume submits their inputs again`,
    );
    return EXIT.ok;
  } catch (error) {
    io.stderr(`embatch: cannot cancel jobs: ${redactSecret(describeError(error), secret)}`);
    return EXIT.failed;
  }
}

/** Refuses to start over a journal with open jobs (they would be paid twice); clears a finished one. */
async function checkJournal(path: string, resume: boolean): Promise<string | undefined> {
  if (resume) return undefined;
  let open = 0;
  try {
    await Deno.stat(path);
  } catch {
    return undefined;
  }
  {
    await using journal = await Journal.open(path);
    open = journal.state?.open.size ?? 0;
  }
  if (open > 0) {
    return `embatch: ${path} records ${open} unfinished Batch API jobs for this output: ` +
      `pass --resume to collect them, or --cancel-jobs to cancel them`;
  }
  await Deno.remove(path);
  return undefined;
}

/** One `--batch-api` run from open files to exit code. */
class BatchCorpusRun {
  readonly #options: CliOptions;
  readonly #io: MainIO;
  readonly #input: CorpusInput;
  readonly #output: CorpusOutput;
  readonly #journal: string;
  readonly #secret: string | undefined;
  readonly #writer: JsonlWriter;
  readonly #seen = new IdSet();
  readonly #counts: BatchCounts = {
    read: 0,
    written: 0,
    errors: 0,
    errorsByCode: new Map(),
    skipped: 0,
    badLines: 0,
    repeated: 0,
  };
  #progress: BatchProgress | undefined;

  constructor(
    options: CliOptions,
    io: MainIO,
    input: CorpusInput,
    output: CorpusOutput,
    journal: string,
    secret: string | undefined,
  ) {
    this.#options = options;
    this.#io = io;
    this.#input = input;
    this.#output = output;
    this.#journal = journal;
    this.#secret = secret;
    this.#writer = new JsonlWriter(output.sink, { bufferSize: 1 << 16, flushInterval: 1000 });
  }

  async run(client: { apiKey: string; baseUrl?: string }, where: string): Promise<number> {
    const options = this.#options;
    this.#note(`embatch: embedding ${this.#input.name} with ${where} into ${this.#output.name}`);
    if (this.#output.resume) this.#note(describeResume(this.#output.name, this.#output.resume));
    const done = this.#output.resume?.done;
    const signal = this.#io.signal;
    const ticker = this.#startProgress();
    let outcome: "done" | "detached" | "stopped" | "refused" = "done";
    let failure: string | undefined;
    try {
      const results = embedWithBatchApi(this.#inputs(), {
        ...client,
        model: options.model,
        normalize: options.normalize,
        ...(options.dimensions !== undefined && { dimensions: options.dimensions }),
        ...(options.taskType !== undefined && { taskType: options.taskType }),
        journal: this.#journal,
        ...(options.jobMaxTokens !== undefined && { jobMaxTokens: options.jobMaxTokens }),
        ...(options.maxEnqueuedTokens !== undefined &&
          { maxEnqueuedTokens: options.maxEnqueuedTokens }),
        pollInterval: options.pollIntervalMs ?? (options.simulate ? 1000 : 30_000),
        jobDeadline: options.jobDeadlineMs,
        ...(signal !== undefined && { signal }),
        ...(done !== undefined && { written: (input: BatchInput) => done.has(input.id) }),
        onProgress: (progress) => void (this.#progress = progress),
        beforeCommit: async () => {
          await this.#writer.flush();
          await this.#output.file?.syncData();
        },
      });
      for await (const result of results) {
        if (done?.has(result.id)) continue; // written by the run that was stopped
        if ("embedding" in result) {
          await this.#writer.write(formatRecord(result.id, { embedding: result.embedding }));
        } else {
          const { code, message, status, attempts } = result.error;
          await this.#writeError(result.id, {
            code,
            message: redactSecret(message, this.#secret),
            ...(status !== undefined && { status }),
            attempts,
          });
        }
        this.#counts.written++;
      }
    } catch (error) {
      if (signal?.aborted && error === signal.reason) outcome = "detached";
      else if (error instanceof BatchJournalError) {
        outcome = "refused";
        failure = error.message;
      } else {
        outcome = "stopped";
        failure = redactSecret(describeError(error), this.#secret);
      }
    } finally {
      clearInterval(ticker);
    }
    try {
      await this.#writer.close();
      await this.#output.file?.syncData();
    } catch (error) {
      failure ??= `cannot write ${this.#output.name}: ${describeError(error)}`;
      outcome = "stopped";
    }
    this.#output.file?.close();
    try {
      this.#input.file?.close();
    } catch { /* reading to the end closed it */ }
    return this.#report(outcome, failure);
  }

  /** The records to embed; bad lines are written as error records here, repeats skipped. */
  async *#inputs(): AsyncGenerator<BatchInput, void, undefined> {
    const done = this.#output.resume?.done;
    const records = readInputs(this.#input.source, {
      format: this.#input.format,
      textField: this.#options.textField,
      titleField: this.#options.titleField,
    });
    const documents = this.#options.taskType === "RETRIEVAL_DOCUMENT";
    for await (const record of records) {
      this.#counts.read++;
      if (!this.#seen.add(record.id)) {
        this.#counts.repeated++;
        continue;
      }
      if (done?.has(record.id)) {
        // Still passed on, so that inputs keep their positions in the journal.
        this.#counts.skipped++;
        yield { id: record.id, text: record.ok ? record.text : "" };
        continue;
      }
      if (!record.ok) {
        this.#counts.badLines++;
        await this.#writeError(record.id, record.error);
        this.#counts.written++;
        continue;
      }
      if (record.files !== undefined) {
        // Job files carry text requests: media goes through online runs.
        this.#counts.badLines++;
        await this.#writeError(record.id, {
          code: "UNSUPPORTED_WITH_BATCH_API",
          message: `line ${
            record.line + 1
          }: --batch-api embeds texts; a line with "file" is embedded without --batch-api`,
        });
        this.#counts.written++;
        continue;
      }
      const title = documents ? record.title : undefined;
      yield { id: record.id, text: record.text, ...(title !== undefined && { title }) };
    }
  }

  #writeError(id: InputId, error: RecordError): Promise<void> {
    this.#counts.errors++;
    this.#counts.errorsByCode.set(error.code, (this.#counts.errorsByCode.get(error.code) ?? 0) + 1);
    return this.#writer.write(formatRecord(id, { error }));
  }

  #startProgress(): ReturnType<typeof setInterval> | undefined {
    if (this.#options.quiet) return undefined;
    const terminal = this.#io.stderrIsTerminal ?? Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    const write = this.#io.stderrText ??
      ((text: string) => void Deno.stderr.writeSync(encoder.encode(text)));
    return setInterval(() => {
      if (this.#progress === undefined) return;
      const line = formatBatchProgress(this.#progress, this.#counts);
      write(terminal ? `\r\x1b[K${line}` : `${line}\n`);
    }, terminal ? 1000 : this.#options.progressIntervalMs);
  }

  #report(
    outcome: "done" | "detached" | "stopped" | "refused",
    failure: string | undefined,
  ): number {
    const io = this.#io;
    if (!this.#options.quiet && (io.stderrIsTerminal ?? Deno.stderr.isTerminal())) {
      (io.stderrText ??
        ((text: string) => void Deno.stderr.writeSync(new TextEncoder().encode(text))))(
          "\r\x1b[K",
        );
    }
    if (failure !== undefined) io.stderr(`embatch: ${failure}`);
    if (outcome === "refused") return EXIT.usage; // nothing was submitted
    if (!this.#options.quiet && this.#progress !== undefined) {
      io.stderr(
        summarizeBatch(
          this.#progress,
          this.#counts,
          this.#options.model,
          this.#options.price,
          outcome,
        ),
      );
    }
    if (outcome === "detached") return EXIT.interrupted;
    if (outcome === "stopped") return EXIT.failed;
    return this.#counts.errors > 0 ? EXIT.partial : EXIT.ok;
  }

  #note(line: string): void {
    if (!this.#options.quiet) this.#io.stderr(line);
  }
}

/** The URL calls go to, and which setting said so. */
function endpointName(options: CliOptions, io: MainIO): string {
  const { url, from } = apiEndpoint(options, io, undefined);
  return from === undefined ? url : `${url} (${from})`;
}
