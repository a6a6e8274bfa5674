/**
 * Embeds a stream of texts through Gemini's Batch API: half the interactive
 * price, no requests-per-minute limit, results within Google's 24-hour target.
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import { Deque } from "../internal/deque.ts";
import { sleep } from "../internal/sleep.ts";
import { GeminiApiError } from "../errors.ts";
import { applyTask, DEFAULT_MODEL, modelProfile } from "../gemini/models.ts";
import { normalize } from "../gemini/normalize.ts";
import type { GeminiTaskType } from "../gemini/task_types.ts";
import { estimateTokens } from "../resilience/tokens.ts";
import { BatchApiClient, isTransient, type JobStatus, TERMINAL_STATES } from "./client.ts";
import {
  BatchJournalError,
  type JobMember,
  Journal,
  type JournaledJob,
  packMembers,
} from "./journal.ts";
import { jobLine, parseResultItem, parseResultLine, type ResultLine } from "./job_lines.ts";

/** One text to embed. */
export interface BatchInput {
  /** The input's id, given back with its result; unique within the run (a bigint: an integer beyond 2^53). */
  id: string | number | bigint;
  /** The text. */
  text: string;
  /** A document's title, sent with the `RETRIEVAL_DOCUMENT` task type the way the model wants it. */
  title?: string;
}

/** Why an input has no embedding. */
export interface BatchRecordError {
  /** The API's status (such as `INVALID_ARGUMENT`), or embatch's: `JOB_FAILED`, `JOB_EXPIRED`, `JOB_CANCELLED`, `DEADLINE_EXCEEDED`, `WRONG_DIMENSIONS`, `MISSING_RESULT`. */
  code: string;
  /** What went wrong. */
  message: string;
  /** The HTTP-style code of an error line, when there was one. */
  status?: number;
  /** How many jobs the input was in. */
  attempts: number;
}

/** The one result of one input. */
export type BatchResult =
  | { id: string | number | bigint; embedding: number[]; tokens?: number }
  | { id: string | number | bigint; error: BatchRecordError };

/** A snapshot of a run, given to {@linkcode EmbedWithBatchApiOptions.onProgress}. */
export interface BatchProgress {
  /** Open jobs by state: `PLANNED` (not created yet), `PENDING`, `RUNNING`, or a terminal state being collected. */
  jobs: Record<string, number>;
  /** Request counts summed over open jobs, from each job's `batchStats`. */
  requests: { total: number; succeeded: number; failed: number; pending: number };
  /** Jobs created by this process. */
  jobsCreated: number;
  /** Jobs done: results written, or given up on. */
  jobsDone: number;
  /** Jobs found again after a restart instead of being created twice. */
  jobsReattached: number;
  /** Jobs that ended FAILED, EXPIRED, CANCELLED (not by us) or past the deadline. */
  jobsLost: number;
  /** Creates refused with 429 and waited out. */
  createsRefused: number;
  /** Embeddings yielded. */
  embedded: number;
  /** Error results yielded. */
  errors: number;
  /** Inputs put back in a later job after an error line or a lost job. */
  retried: number;
  /** Tokens billed, from the result lines' token counts (estimated where a line has none). */
  tokens: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
}

/** Options of {@linkcode embedWithBatchApi}. */
export interface EmbedWithBatchApiOptions {
  /** The Gemini API key (sent in a header, never logged). */
  apiKey: string;
  /**
   * The embedding model.
   *
   * @default {DEFAULT_MODEL} (`gemini/models.ts`: gemini-embedding-2)
   */
  model?: string;
  /** The vector length to ask for and to check; the model's default (3072) when unset. */
  dimensions?: number;
  /**
   * Scale every vector to unit length, as online runs do (`GeminiEmbedder`):
   * gemini-embedding-001 returns unit length only at its full size.
   *
   * @default {true}
   */
  normalize?: boolean;
  /**
   * Gemini's task type, such as `RETRIEVAL_DOCUMENT`, sent the way the model
   * wants it (`applyTask` of `gemini/models.ts`): a `taskType` field for
   * gemini-embedding-001, Google's instruction in the text for gemini-embedding-2.
   */
  taskType?: GeminiTaskType;
  /**
   * The API's base URL.
   *
   * @default {"https://generativelanguage.googleapis.com"}
   */
  baseUrl?: string;
  /**
   * The API version.
   *
   * @default {"v1beta"}
   */
  apiVersion?: string;
  /**
   * The journal file. With it, a run that stops (a signal, a crash, a kill)
   * can be run again with the same inputs and reattaches to its jobs instead
   * of creating them twice. Without it nothing is resumable.
   *
   * @default {undefined}
   */
  journal?: string;
  /**
   * Estimated input tokens per job (embatch's `estimateTokens`).
   *
   * @default {100000}
   */
  jobMaxTokens?: number;
  /**
   * The most estimated tokens this run keeps in unfinished jobs: the next job
   * is created as earlier ones finish. Gemini's tier 1 allows 500,000 per
   * project for Gemini Embedding; a 429 on create is waited out.
   *
   * @default {500000}
   */
  maxEnqueuedTokens?: number;
  /**
   * Milliseconds between polls of each job, with ±20% jitter.
   *
   * @default {30000}
   */
  pollInterval?: number;
  /**
   * Milliseconds a job may stay unfinished before it is cancelled and its
   * inputs resubmitted (or reported, past `maxJobAttempts`).
   *
   * @default {86400000}
   */
  jobDeadline?: number;
  /**
   * Jobs an input may be in whose result line for it is an error, before it
   * becomes an error result. Errors `400`, `403` and `404` are not retried.
   *
   * @default {5}
   */
  maxLineAttempts?: number;
  /**
   * Jobs an input may be in that end without results (failed, expired,
   * cancelled not by us, past the deadline) before it becomes an error result.
   *
   * @default {3}
   */
  maxJobAttempts?: number;
  /**
   * Detaches when aborted: the generator throws `signal.reason`, jobs keep
   * running at Google, and a run with the same journal reattaches.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called with a snapshot after each poll round and each job change.
   *
   * @default {undefined}
   */
  onProgress?: (progress: BatchProgress) => void;
  /**
   * Awaited after a job's last result is consumed and before the journal
   * records the job as written: flush your output here. Results of a job not
   * yet recorded are yielded again by a resumed run.
   *
   * @default {undefined}
   */
  beforeCommit?: () => Promise<void>;
  /**
   * Tells whether an input's result is already in your output. Such inputs
   * are not submitted, and on resume an input the journal counts as written
   * for which it returns `false` (say, its error record was dropped to retry
   * it) is submitted again. Unset: only the journal decides.
   *
   * @default {undefined}
   */
  written?: (input: BatchInput) => boolean;
  /**
   * Numbers in [0, 1) for the polling jitter.
   *
   * @default {Math.random}
   */
  random?: () => number;
}

/** Errors of a result line that another attempt cannot fix. */
const PERMANENT = new Set([400, 403, 404]);

/**
 * Embeds `inputs` through Gemini's Batch API and yields exactly one result
 * per input, in the order jobs finish.
 *
 * Inputs are packed into job files of `{"key","request"}` lines (up to
 * `jobMaxTokens` each), uploaded with the Files API and submitted as
 * embeddings batch jobs while the run's unfinished jobs hold fewer than
 * `maxEnqueuedTokens`. Each job is polled until it ends; its result file is
 * streamed, matched to inputs by key, and every vector's length checked.
 * Error lines and inputs of lost jobs go into later jobs (bounded), then
 * become error results. Uploaded and result files are deleted once a job's
 * results are consumed. Memory holds the inputs of unfinished jobs only.
 *
 * With `journal`, everything that costs money is recorded before the run moves
 * on; a run with the same inputs and journal skips what was written,
 * reattaches to unfinished jobs, and finds a job whose create may have reached
 * the server before a crash by its display name.
 *
 * @param inputs The texts, each with a unique id, in the same order on every run of a journal.
 * @param options Key, model, sizing, polling, journal and callbacks.
 * @returns The results.
 * @throws {RangeError} If a numeric option is out of range.
 * @throws {BatchJournalError} If the journal belongs to another model or the inputs changed.
 * @throws {GeminiApiError} If the API refuses a call in a way waiting cannot fix.
 *
 * @example Embedding on the simulator
 * ```ts
 * import { embedWithBatchApi } from "./embed_with_batch_api.ts";
 * import { startSimulator } from "../simulator/server.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator({ batch: { pendingMs: 5, runningMs: 5 } });
 * const inputs = [{ id: "a", text: "alpha" }, { id: "b", text: "beta" }];
 * const results = [];
 * for await (const result of embedWithBatchApi(inputs, {
 *   apiKey: "any",
 *   baseUrl: simulator.url,
 *   dimensions: 8,
 *   pollInterval: 10,
 * })) results.push(result);
 * assert.deepEqual(results.map((r) => r.id).sort(), ["a", "b"]);
 * assert.ok(results.every((r) => "embedding" in r && r.embedding.length === 8));
 * ```
 */
export async function* embedWithBatchApi(
  inputs: AsyncIterable<BatchInput> | Iterable<BatchInput>,
  options: EmbedWithBatchApiOptions,
): AsyncGenerator<BatchResult, void, undefined> {
  const settings = resolve(options);
  options.signal?.throwIfAborted();
  const client = new BatchApiClient({
    apiKey: options.apiKey,
    ...(options.baseUrl !== undefined && { baseUrl: options.baseUrl }),
    ...(options.apiVersion !== undefined && { apiVersion: options.apiVersion }),
  });
  const journal = options.journal === undefined ? undefined : await Journal.open(options.journal);
  try {
    const run = new BatchRun(inputs, settings, options, client, journal);
    yield* run.go();
  } finally {
    await journal?.[Symbol.asyncDispose]();
  }
}

type Settings = Required<
  Pick<
    EmbedWithBatchApiOptions,
    | "model"
    | "jobMaxTokens"
    | "maxEnqueuedTokens"
    | "pollInterval"
    | "jobDeadline"
    | "maxLineAttempts"
    | "maxJobAttempts"
    | "random"
  >
>;

function resolve(options: EmbedWithBatchApiOptions): Settings {
  const settings: Settings = {
    model: (options.model ?? DEFAULT_MODEL).replace(/^models\//, ""),
    jobMaxTokens: options.jobMaxTokens ?? 100_000,
    maxEnqueuedTokens: options.maxEnqueuedTokens ?? 500_000,
    pollInterval: options.pollInterval ?? 30_000,
    jobDeadline: options.jobDeadline ?? 86_400_000,
    maxLineAttempts: options.maxLineAttempts ?? 5,
    maxJobAttempts: options.maxJobAttempts ?? 3,
    random: options.random ?? Math.random,
  };
  for (
    const name of [
      "jobMaxTokens",
      "maxEnqueuedTokens",
      "maxLineAttempts",
      "maxJobAttempts",
    ] as const
  ) {
    const value = settings[name];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot embed with the Batch API: ${name} must be a positive integer, received ${value}`,
      );
    }
  }
  for (const name of ["pollInterval", "jobDeadline"] as const) {
    const value = settings[name];
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(
        `Cannot embed with the Batch API: ${name} must be a positive number of milliseconds, received ${value}`,
      );
    }
  }
  const { dimensions } = options;
  if (
    dimensions !== undefined &&
    (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 3072)
  ) {
    throw new RangeError(
      `Cannot embed with the Batch API: dimensions must be an integer from 1 to 3072, received ${dimensions}`,
    );
  }
  return settings;
}

/** An input held in memory while a job has it. */
interface Slot extends BatchInput {
  member: JobMember;
}

interface LiveJob {
  seq: number;
  displayName: string;
  slots: Map<string, Slot>;
  tokens: number;
  idsHash: string;
  file?: string;
  name?: string;
  createdAt?: number;
  status?: JobStatus;
  cancelledByUs?: boolean;
}

class BatchRun {
  readonly #settings: Settings;
  readonly #options: EmbedWithBatchApiOptions;
  readonly #client: BatchApiClient;
  readonly #journal: Journal | undefined;
  readonly #reader: AsyncIterator<BatchInput> | Iterator<BatchInput>;
  readonly #open = new Map<number, LiveJob>();
  /** Inputs waiting for a later job, oldest first. */
  readonly #retry = new Deque<Slot>();
  /** An input taken for a job it did not fit in: the next job's first. */
  #carry: Slot | undefined;
  readonly #startedAt = now();
  readonly #progress: BatchProgress = {
    jobs: {},
    requests: { total: 0, succeeded: 0, failed: 0, pending: 0 },
    jobsCreated: 0,
    jobsDone: 0,
    jobsReattached: 0,
    jobsLost: 0,
    createsRefused: 0,
    embedded: 0,
    errors: 0,
    retried: 0,
    tokens: 0,
    elapsedMs: 0,
  };
  #runId = "";
  #nextOrdinal = 0;
  #nextSeq = 1;
  #inputsDone = false;
  /** A job planned but not created yet (no room under the cap, or refused). */
  #waiting: LiveJob | undefined;
  /** Tokens per new job: `jobMaxTokens`, halved when a job alone is refused at the cap. */
  #jobTokens: number;

  constructor(
    inputs: AsyncIterable<BatchInput> | Iterable<BatchInput>,
    settings: Settings,
    options: EmbedWithBatchApiOptions,
    client: BatchApiClient,
    journal: Journal | undefined,
  ) {
    this.#settings = settings;
    this.#options = options;
    this.#client = client;
    this.#journal = journal;
    this.#jobTokens = settings.jobMaxTokens;
    this.#reader = Symbol.asyncIterator in inputs
      ? inputs[Symbol.asyncIterator]()
      : (inputs as Iterable<BatchInput>)[Symbol.iterator]();
  }

  async *go(): AsyncGenerator<BatchResult, void, undefined> {
    await this.#start();
    const signal = this.#options.signal;
    for (let round = 0;; round++) {
      signal?.throwIfAborted();
      if (round > 0) yield* this.#pollAll();
      await this.#submitWhileRoom();
      this.#report();
      if (
        this.#open.size === 0 && this.#waiting === undefined && this.#inputsDone &&
        this.#retry.length === 0 && this.#carry === undefined
      ) {
        return;
      }
      const jitter = 0.8 + 0.4 * this.#settings.random();
      await sleep(Math.round(this.#settings.pollInterval * jitter), signal);
    }
  }

  /** Starts a new journal, or replays one: reattaches jobs and re-reads their inputs. */
  async #start(): Promise<void> {
    const { model, dimensions, taskType } = this.#options;
    const state = this.#journal?.state;
    if (state === undefined) {
      this.#runId = crypto.randomUUID().slice(0, 8);
      await this.#journal?.append({
        t: "run",
        runId: this.#runId,
        model: this.#settings.model,
        ...(dimensions !== undefined && { dimensions }),
        ...(taskType !== undefined && { taskType }),
      });
      return;
    }
    const { run } = state;
    if (
      run.model !== this.#settings.model || run.dimensions !== dimensions ||
      run.taskType !== taskType
    ) {
      throw new BatchJournalError(
        `Cannot resume the batch run: its journal was written for model ${run.model}, dimensions ${
          run.dimensions ?? "default"
        }, task type ${run.taskType ?? "none"}, received model ${
          model ?? this.#settings.model
        }, dimensions ${dimensions ?? "default"}, task type ${taskType ?? "none"}`,
      );
    }
    this.#runId = run.runId;
    this.#nextSeq = state.nextSeq;
    this.#progress.jobsDone = state.doneJobs;
    const holder = new Map<number, LiveJob>();
    for (const journaled of state.open.values()) {
      const job = this.#liveFromJournal(journaled);
      this.#open.set(job.seq, job);
      for (const member of journaled.members) holder.set(member.ordinal, job);
    }
    const members = new Map<number, JobMember>();
    for (const journaled of state.open.values()) {
      for (const member of journaled.members) members.set(member.ordinal, member);
    }
    while (this.#nextOrdinal < state.nextOrdinal) {
      const input = await this.#read();
      if (input === undefined) {
        throw new BatchJournalError(
          `Cannot resume the batch run: the journal covers ${state.nextOrdinal} inputs, but the input ended after ${this.#nextOrdinal}`,
        );
      }
      const ordinal = this.#nextOrdinal - 1;
      const job = holder.get(ordinal);
      if (job !== undefined) {
        job.slots.set(String(ordinal), { ...input, member: members.get(ordinal)! });
        job.tokens += estimateTokens(input.text);
      }
      if (job !== undefined || this.#options.written?.(input)) continue;
      const retry = state.retry.get(ordinal);
      if (retry !== undefined) this.#retry.push({ ...input, member: retry });
      else if (this.#options.written !== undefined) {
        this.#retry.push({ ...input, member: { ordinal, lineAttempts: 0, jobAttempts: 0 } });
      }
    }
    for (const job of this.#open.values()) {
      if (hashIds(job.slots) !== job.idsHash) {
        throw new BatchJournalError(
          `Cannot resume the batch run: the inputs of job ${job.displayName} changed since it was submitted (different ids at the same positions)`,
        );
      }
    }
    await this.#reattach();
  }

  #liveFromJournal(journaled: JournaledJob): LiveJob {
    return {
      seq: journaled.seq,
      displayName: journaled.displayName,
      slots: new Map(),
      tokens: 0,
      idsHash: journaled.idsHash,
      ...(journaled.file !== undefined && { file: journaled.file }),
      ...(journaled.name !== undefined && { name: journaled.name }),
      ...(journaled.createdAt !== undefined && { createdAt: journaled.createdAt }),
    };
  }

  /**
   * Finds, by display name, the jobs whose create was sent but not recorded:
   * the create may have reached the server just before the process died.
   */
  async #reattach(): Promise<void> {
    // An upload that finished before the kill but was not recorded: use it, not a second one.
    const unuploaded = [...this.#open.values()].filter((job) => job.file === undefined);
    if (unuploaded.length > 0) {
      const files = await this.#client.findFiles(`embatch-${this.#runId}-`);
      for (const job of unuploaded) {
        const file = files.get(job.displayName);
        if (file === undefined) continue;
        job.file = file;
        await this.#journal?.append({ t: "file", seq: job.seq, file });
      }
    }
    const unsure = [...this.#open.values()].filter((job) =>
      job.name === undefined && job.file !== undefined
    );
    for (const job of this.#open.values()) {
      if (job.name !== undefined) this.#progress.jobsReattached++;
    }
    if (unsure.length === 0) return;
    const found = await this.#client.findJobs(`embatch-${this.#runId}-`);
    for (const job of unsure) {
      const status = found.get(job.displayName);
      if (status === undefined) continue;
      await this.#recordCreated(job, status, now());
      this.#progress.jobsReattached++;
    }
  }

  async #read(): Promise<BatchInput | undefined> {
    if (this.#inputsDone) return undefined;
    const next = await this.#reader.next();
    if (next.done) {
      this.#inputsDone = true;
      return undefined;
    }
    this.#nextOrdinal++;
    return next.value;
  }

  /** Plans the next job from inputs to retry, then new inputs; `undefined` when there are none. */
  async #plan(): Promise<LiveJob | undefined> {
    const slots = new Map<string, Slot>();
    let tokens = 0;
    while (tokens < this.#jobTokens) {
      let slot = this.#carry ?? this.#retry.shift();
      this.#carry = undefined;
      if (slot === undefined) {
        const input = await this.#read();
        if (input === undefined) break;
        if (this.#options.written?.(input)) continue;
        slot = {
          ...input,
          member: { ordinal: this.#nextOrdinal - 1, lineAttempts: 0, jobAttempts: 0 },
        };
      }
      const cost = estimateTokens(slot.text);
      if (slots.size > 0 && tokens + cost > this.#jobTokens) {
        this.#carry = slot;
        break;
      }
      slots.set(String(slot.member.ordinal), slot);
      tokens += cost;
    }
    if (slots.size === 0) return undefined;
    const seq = this.#nextSeq++;
    const job: LiveJob = {
      seq,
      displayName: `embatch-${this.#runId}-${seq}`,
      slots,
      tokens,
      idsHash: hashIds(slots),
    };
    await this.#journal?.append({
      t: "job",
      seq,
      displayName: job.displayName,
      members: packMembers([...slots.values()].map((slot) => slot.member)),
      idsHash: job.idsHash,
    });
    this.#open.set(seq, job);
    return job;
  }

  #enqueuedTokens(): number {
    let total = 0;
    for (const job of this.#open.values()) if (job.name !== undefined) total += job.tokens;
    return total;
  }

  /** Creates jobs while the run's unfinished jobs leave room under the cap. */
  async #submitWhileRoom(): Promise<void> {
    // Jobs a restart left planned or uploaded but not created go first.
    for (const job of this.#open.values()) {
      if (job.name === undefined && job !== this.#waiting) {
        if (!await this.#submit(job)) return;
      }
    }
    for (;;) {
      this.#options.signal?.throwIfAborted();
      const job = this.#waiting ?? await this.#plan();
      if (job === undefined) return;
      const enqueued = this.#enqueuedTokens();
      if (enqueued > 0 && enqueued + job.tokens > this.#settings.maxEnqueuedTokens) {
        this.#waiting = job;
        return;
      }
      if (await this.#submit(job)) {
        this.#waiting = undefined;
      } else if (enqueued === 0 && job.slots.size > 1) {
        // Refused with none of ours enqueued: the job alone may exceed the
        // project's cap. Give it up and plan smaller jobs from its inputs.
        this.#waiting = undefined;
        this.#jobTokens = Math.max(1, Math.floor(job.tokens / 2));
        await this.#finish(job, "SPLIT", [...job.slots.values()]);
        return;
      } else {
        this.#waiting = job;
        return;
      }
    }
  }

  /** Uploads (if needed) and creates a job; `false` when the create was refused with 429. */
  async #submit(job: LiveJob, reuploaded = false): Promise<boolean> {
    if (job.file === undefined) {
      const lines: string[] = [];
      const { dimensions, taskType } = this.#options;
      const profile = modelProfile(this.#settings.model);
      for (const [key, slot] of job.slots) {
        const task = applyTask(profile, slot.text, taskType, slot.title);
        lines.push(jobLine(key, task.text, {
          model: this.#settings.model,
          ...(dimensions !== undefined && { dimensions }),
          ...(task.taskType !== undefined && { taskType: task.taskType }),
          ...(task.title !== undefined && { title: task.title }),
        }));
      }
      job.file = await this.#client.uploadJobFile(new Blob(lines), job.displayName);
      await this.#journal?.append({ t: "file", seq: job.seq, file: job.file });
    }
    for (let attempt = 1;; attempt++) {
      this.#options.signal?.throwIfAborted();
      try {
        const status = await this.#client.createJob(
          this.#settings.model,
          job.file,
          job.displayName,
        );
        await this.#recordCreated(job, status, now());
        this.#progress.jobsCreated++;
        return true;
      } catch (error) {
        if (error instanceof GeminiApiError && error.status === 429) {
          this.#progress.createsRefused++;
          return false;
        }
        if (
          error instanceof GeminiApiError && (error.status === 403 || error.status === 404) &&
          !reuploaded
        ) {
          // The input file may be gone (files expire after 48 hours): upload it once more.
          delete job.file;
          return await this.#submit(job, true);
        }
        if (!isTransient(error) || attempt >= 4) throw error;
        // The create may have reached the server: look before creating again.
        const found = (await this.#client.findJobs(job.displayName)).get(job.displayName);
        if (found !== undefined) {
          await this.#recordCreated(job, found, now());
          this.#progress.jobsCreated++;
          return true;
        }
        await sleep(1000 * 2 ** (attempt - 1), this.#options.signal);
      }
    }
  }

  async #recordCreated(job: LiveJob, status: JobStatus, at: number): Promise<void> {
    job.name = status.name;
    job.createdAt = at;
    job.status = status;
    await this.#journal?.append({ t: "created", seq: job.seq, name: status.name, at });
  }

  async *#pollAll(): AsyncGenerator<BatchResult, void, undefined> {
    for (const job of [...this.#open.values()]) {
      if (job.name === undefined) continue;
      this.#options.signal?.throwIfAborted();
      job.status = await this.#client.getJob(job.name);
      const state = job.status.state;
      if (state === "SUCCEEDED") {
        yield* this.#collect(job);
      } else if (TERMINAL_STATES.has(state)) {
        yield* this.#lose(
          job,
          `JOB_${state}`,
          job.status.error?.message ?? `The job ended ${state}`,
        );
      } else if (now() - (job.createdAt ?? now()) > this.#settings.jobDeadline) {
        await this.#client.cancelJob(job.name);
        job.cancelledByUs = true;
        yield* this.#lose(
          job,
          "DEADLINE_EXCEEDED",
          `The job was still ${state} after the job deadline of ${this.#settings.jobDeadline} ms, and was cancelled`,
        );
      }
    }
    this.#report();
  }

  /** Streams a finished job's results, matching lines to inputs by key. */
  async *#collect(job: LiveJob): AsyncGenerator<BatchResult, void, undefined> {
    const status = job.status!;
    const retry: Slot[] = [];
    const expected = this.#options.dimensions ??
      modelProfile(this.#settings.model).defaultDimensions;
    const handle = (line: ResultLine): BatchResult | undefined => {
      const slot = job.slots.get(line.key);
      if (slot === undefined) return undefined; // not ours, or a repeated key
      job.slots.delete(line.key);
      if ("values" in line && line.values.length === expected) {
        this.#progress.embedded++;
        this.#progress.tokens += line.tokens ?? estimateTokens(slot.text);
        return {
          id: slot.id,
          embedding: this.#options.normalize === false ? line.values : normalize(line.values),
          ...(line.tokens !== undefined && { tokens: line.tokens }),
        };
      }
      const error = "error" in line
        ? {
          code: line.error.status ?? String(line.error.code),
          message: line.error.message,
          status: line.error.code,
        }
        : {
          code: "WRONG_DIMENSIONS",
          message: `The result has ${line.values.length} values, expected ${expected}`,
        };
      return this.#lineFailed(slot, error, retry);
    };
    if (status.resultFile !== undefined) {
      for await (
        const text of this.#client.downloadLines(status.resultFile, this.#options.signal)
      ) {
        const line = parseResultLine(text);
        const result = line === undefined ? undefined : handle(line);
        if (result !== undefined) yield result;
      }
    } else {
      const keys = [...job.slots.keys()];
      for (const [index, item] of (status.inline ?? []).entries()) {
        const metadata = item.metadata as Record<string, unknown> | undefined;
        const key = typeof metadata?.key === "string" ? metadata.key : keys[index];
        const line = key === undefined ? undefined : parseResultItem(key, item);
        const result = line === undefined ? undefined : handle(line);
        if (result !== undefined) yield result;
      }
    }
    for (const slot of [...job.slots.values()]) {
      const result = this.#lineFailed(slot, {
        code: "MISSING_RESULT",
        message: "The job's results have no line for this input",
      }, retry);
      if (result !== undefined) yield result;
    }
    job.slots.clear();
    await this.#finish(job, "SUCCEEDED", retry);
  }

  /** Counts a failed line: returns its error result, or queues it for a later job. */
  #lineFailed(
    slot: Slot,
    error: { code: string; message: string; status?: number },
    retry: Slot[],
  ): BatchResult | undefined {
    if (this.#options.written?.(slot)) return undefined; // already in the caller's output
    slot.member.lineAttempts++;
    const attempts = slot.member.lineAttempts + slot.member.jobAttempts;
    if (
      (error.status !== undefined && PERMANENT.has(error.status)) ||
      slot.member.lineAttempts >= this.#settings.maxLineAttempts
    ) {
      this.#progress.errors++;
      return { id: slot.id, error: { ...error, attempts } };
    }
    this.#progress.retried++;
    retry.push(slot);
    return undefined;
  }

  /** A job ended without results: its inputs go into later jobs, or become errors. */
  async *#lose(
    job: LiveJob,
    code: string,
    message: string,
  ): AsyncGenerator<BatchResult, void, undefined> {
    this.#progress.jobsLost++;
    const retry: Slot[] = [];
    for (const slot of job.slots.values()) {
      if (this.#options.written?.(slot)) continue; // already in the caller's output
      slot.member.jobAttempts++;
      if (slot.member.jobAttempts >= this.#settings.maxJobAttempts) {
        this.#progress.errors++;
        yield {
          id: slot.id,
          error: { code, message, attempts: slot.member.lineAttempts + slot.member.jobAttempts },
        };
      } else {
        this.#progress.retried++;
        retry.push(slot);
      }
    }
    job.slots.clear();
    await this.#finish(job, code, retry);
  }

  /** Records a job as done (after the caller's flush), queues its retries, deletes its files. */
  async #finish(job: LiveJob, state: string, retry: Slot[]): Promise<void> {
    await this.#options.beforeCommit?.();
    await this.#journal?.append({
      t: "done",
      seq: job.seq,
      state,
      retry: packMembers(retry.map((slot) => slot.member)),
    });
    this.#open.delete(job.seq);
    for (const slot of retry) this.#retry.push(slot);
    this.#progress.jobsDone++;
    const files = [job.file, job.status?.resultFile].filter((name) => name !== undefined);
    for (const file of files) await this.#client.deleteFile(file).catch(() => {});
    this.#report();
  }

  #report(): void {
    const progress = this.#progress;
    progress.jobs = {};
    progress.requests = { total: 0, succeeded: 0, failed: 0, pending: 0 };
    for (const job of this.#open.values()) {
      const state = job.name === undefined ? "PLANNED" : job.status?.state ?? "PENDING";
      progress.jobs[state] = (progress.jobs[state] ?? 0) + 1;
      const stats = job.status?.stats;
      if (stats === undefined) continue;
      progress.requests.total += stats.total;
      progress.requests.succeeded += stats.succeeded;
      progress.requests.failed += stats.failed;
      progress.requests.pending += stats.pending;
    }
    progress.elapsedMs = now() - this.#startedAt;
    this.#options.onProgress?.({
      ...progress,
      jobs: { ...progress.jobs },
      requests: { ...progress.requests },
    });
  }
}

/** A hash of the ids of a job's inputs, by position. */
function hashIds(slots: Map<string, Slot>): string {
  const sorted = [...slots.values()].sort((a, b) => a.member.ordinal - b.member.ordinal);
  let hash = 0x811c9dc5;
  for (const { id, member } of sorted) {
    const text = `${member.ordinal}:${typeof id === "bigint" ? String(id) : JSON.stringify(id)};`;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
  }
  return (hash >>> 0).toString(16);
}
