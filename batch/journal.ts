/**
 * The journal of a Batch API run: an append-only JSONL file beside the output
 * that records, before the run moves on, every job it plans (its inputs, as
 * runs of input positions), every file it uploads, every job it creates, and
 * every job whose results are written or that ended without them. Creating a
 * job is not idempotent, so a resumed run reads the journal to reattach to
 * its jobs instead of paying for them twice.
 *
 * @module
 */

/** Inputs of a job, or to retry: `[first position, count, line attempts, job attempts]`. */
export type MemberRun = [number, number, number, number];

/** One input of a job: its position in the input stream and the attempts it has had. */
export interface JobMember {
  /** The input's position in the input stream, from 0; its key is `String(ordinal)`. */
  ordinal: number;
  /** Result lines that were errors for it so far. */
  lineAttempts: number;
  /** Jobs it was in that ended without results (failed, expired, cancelled, past the deadline). */
  jobAttempts: number;
}

/** A line of the journal. */
export type JournalEvent =
  | { t: "run"; runId: string; model: string; dimensions?: number; taskType?: string }
  | { t: "job"; seq: number; displayName: string; members: MemberRun[]; idsHash: string }
  | { t: "file"; seq: number; file: string }
  | { t: "created"; seq: number; name: string; at: number }
  | { t: "done"; seq: number; state: string; retry: MemberRun[] };

/** A job as the journal knows it. */
export interface JournaledJob {
  /** The job's number in this run, from 1. */
  seq: number;
  /** The unique display name it is created with. */
  displayName: string;
  /** Its inputs. */
  members: JobMember[];
  /** A hash of its inputs' ids, to notice a changed input on resume. */
  idsHash: string;
  /** The uploaded input file, once uploaded. */
  file?: string;
  /** The job's name (`batches/…`), once created. */
  name?: string;
  /** When it was created, in epoch milliseconds. */
  createdAt?: number;
}

/** What a journal says about a run. */
export interface JournalState {
  /** The run's settings and id. */
  run: Extract<JournalEvent, { t: "run" }>;
  /** Jobs planned and not yet done, by `seq`. */
  open: Map<number, JournaledJob>;
  /** Inputs waiting for a later job, by position. */
  retry: Map<number, JobMember>;
  /** The position after the last input any job held. */
  nextOrdinal: number;
  /** The `seq` of the next job. */
  nextSeq: number;
  /** Jobs done (results written or given up on). */
  doneJobs: number;
}

/**
 * Packs members into runs of consecutive positions with equal attempts.
 *
 * @param members The members, in any order.
 * @returns The runs, by position.
 *
 * @example Consecutive positions share a run
 * ```ts
 * import { packMembers } from "./journal.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   packMembers([
 *     { ordinal: 0, lineAttempts: 0, jobAttempts: 0 },
 *     { ordinal: 1, lineAttempts: 0, jobAttempts: 0 },
 *     { ordinal: 5, lineAttempts: 1, jobAttempts: 0 },
 *   ]),
 *   [[0, 2, 0, 0], [5, 1, 1, 0]],
 * );
 * ```
 */
export function packMembers(members: readonly JobMember[]): MemberRun[] {
  const sorted = [...members].sort((a, b) => a.ordinal - b.ordinal);
  const runs: MemberRun[] = [];
  for (const { ordinal, lineAttempts, jobAttempts } of sorted) {
    const last = runs.at(-1);
    if (
      last !== undefined && last[0] + last[1] === ordinal && last[2] === lineAttempts &&
      last[3] === jobAttempts
    ) {
      last[1]++;
    } else {
      runs.push([ordinal, 1, lineAttempts, jobAttempts]);
    }
  }
  return runs;
}

/**
 * Unpacks runs into members.
 *
 * @param runs The runs, as {@linkcode packMembers} made them.
 * @returns The members, by position.
 *
 * @example Round trip
 * ```ts
 * import { packMembers, unpackMembers } from "./journal.ts";
 * import assert from "node:assert/strict";
 *
 * const members = [{ ordinal: 3, lineAttempts: 2, jobAttempts: 1 }];
 * assert.deepEqual(unpackMembers(packMembers(members)), members);
 * ```
 */
export function unpackMembers(runs: readonly MemberRun[]): JobMember[] {
  const members: JobMember[] = [];
  for (const [start, count, lineAttempts, jobAttempts] of runs) {
    for (let i = 0; i < count; i++) members.push({ ordinal: start + i, lineAttempts, jobAttempts });
  }
  return members;
}

/** Thrown when a journal cannot be used: unreadable lines, or another run's settings. */
export class BatchJournalError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the journal.
   * @param options The standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BatchJournalError";
  }
}

/**
 * An open journal: {@linkcode Journal.open} replays what is there, then
 * {@linkcode Journal.append} adds events, each written and synced to disk
 * before it resolves.
 *
 * @example Replaying a run with an open job
 * ```ts
 * import { Journal } from "./journal.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * {
 *   await using journal = await Journal.open(path);
 *   await journal.append({ t: "run", runId: "r1", model: "m" });
 *   await journal.append({ t: "job", seq: 1, displayName: "embatch-r1-1", members: [[0, 3, 0, 0]], idsHash: "x" });
 *   await journal.append({ t: "created", seq: 1, name: "batches/abc", at: 0 });
 * }
 * await using again = await Journal.open(path);
 * assert.equal(again.state?.open.get(1)?.name, "batches/abc");
 * assert.equal(again.state?.nextOrdinal, 3);
 * await Deno.remove(path);
 * ```
 */
export class Journal implements AsyncDisposable {
  readonly #file: Deno.FsFile;
  /** What the journal held when opened; `undefined` when it was empty or new. */
  readonly state: JournalState | undefined;

  private constructor(file: Deno.FsFile, state: JournalState | undefined) {
    this.#file = file;
    this.state = state;
  }

  /**
   * Opens (creating it if needed) and replays the journal at `path`. A torn
   * last line, left by a run killed while writing it, is cut off.
   *
   * @param path The journal file.
   * @returns The open journal, with the replayed state.
   * @throws {BatchJournalError} If a line other than the last is not a journal event.
   */
  static async open(path: string): Promise<Journal> {
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const end = text.lastIndexOf("\n") + 1;
    const state = replay(text.slice(0, end), path);
    const file = await Deno.open(path, { create: true, write: true, read: true });
    if (end < new TextEncoder().encode(text).length) {
      await file.truncate(new TextEncoder().encode(text.slice(0, end)).length);
    }
    await file.seek(0, Deno.SeekMode.End);
    return new Journal(file, state);
  }

  /**
   * Appends one event and syncs it to disk.
   *
   * @param event The event.
   */
  async append(event: JournalEvent): Promise<void> {
    const bytes = new TextEncoder().encode(`${JSON.stringify(event)}\n`);
    for (let at = 0; at < bytes.length;) at += await this.#file.write(bytes.subarray(at));
    await this.#file.syncData();
  }

  /** Closes the file. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#file.close();
    return Promise.resolve();
  }
}

function replay(text: string, path: string): JournalState | undefined {
  let state: JournalState | undefined;
  const lines = text.split("\n").filter((line) => line !== "");
  lines.forEach((line, index) => {
    let event: JournalEvent;
    try {
      event = JSON.parse(line);
    } catch (cause) {
      throw new BatchJournalError(
        `Cannot read batch journal ${path}: line ${index + 1} is not JSON, received ${
          line.slice(0, 80)
        }`,
        { cause },
      );
    }
    if (event.t === "run") {
      state ??= {
        run: event,
        open: new Map(),
        retry: new Map(),
        nextOrdinal: 0,
        nextSeq: 1,
        doneJobs: 0,
      };
      return;
    }
    if (state === undefined) {
      throw new BatchJournalError(
        `Cannot read batch journal ${path}: it does not start with a run line`,
      );
    }
    apply(state, event);
  });
  return state;
}

function apply(state: JournalState, event: Exclude<JournalEvent, { t: "run" }>): void {
  switch (event.t) {
    case "job": {
      const members = unpackMembers(event.members);
      for (const { ordinal } of members) {
        state.retry.delete(ordinal);
        state.nextOrdinal = Math.max(state.nextOrdinal, ordinal + 1);
      }
      state.open.set(event.seq, {
        seq: event.seq,
        displayName: event.displayName,
        members,
        idsHash: event.idsHash,
      });
      state.nextSeq = Math.max(state.nextSeq, event.seq + 1);
      return;
    }
    case "file":
      state.open.get(event.seq)!.file = event.file;
      return;
    case "created": {
      const job = state.open.get(event.seq)!;
      job.name = event.name;
      job.createdAt = event.at;
      return;
    }
    case "done":
      state.open.delete(event.seq);
      state.doneJobs++;
      for (const member of unpackMembers(event.retry)) state.retry.set(member.ordinal, member);
  }
}
