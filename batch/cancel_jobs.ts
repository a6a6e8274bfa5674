/**
 * Cancels the unfinished jobs a Batch API run's journal holds.
 *
 * @module
 */

import { BatchApiClient, type BatchApiClientOptions } from "./client.ts";
import { Journal, packMembers } from "./journal.ts";

/** Options of {@linkcode cancelBatchJobs}. */
export interface CancelBatchJobsOptions extends BatchApiClientOptions {
  /** The run's journal file. */
  journal: string;
}

/** What {@linkcode cancelBatchJobs} did. */
export interface CancelBatchJobsResult {
  /** Jobs asked to cancel. */
  cancelled: number;
  /** Jobs planned but never created (nothing to cancel at Google). */
  notCreated: number;
}

/**
 * Cancels every job of the journal that has not been written, including one
 * whose create may have reached the server unrecorded (found by its display
 * name), deletes their input files, and records them as done with their
 * inputs to retry, so that a later resumed run submits those inputs again.
 *
 * @param options The key, base URL and journal.
 * @returns How many jobs were cancelled.
 * @throws {BatchJournalError} If the journal cannot be read.
 *
 * @example Nothing to cancel in a new journal
 * ```ts
 * import { cancelBatchJobs } from "./cancel_jobs.ts";
 * import assert from "node:assert/strict";
 *
 * const journal = await Deno.makeTempFile();
 * const result = await cancelBatchJobs({ apiKey: "any", baseUrl: "http://127.0.0.1:9", journal });
 * assert.deepEqual(result, { cancelled: 0, notCreated: 0 });
 * await Deno.remove(journal);
 * ```
 */
export async function cancelBatchJobs(
  options: CancelBatchJobsOptions,
): Promise<CancelBatchJobsResult> {
  await using journal = await Journal.open(options.journal);
  const state = journal.state;
  const result = { cancelled: 0, notCreated: 0 };
  if (state === undefined || state.open.size === 0) return result;
  const { journal: _path, ...clientOptions } = options;
  const client = new BatchApiClient(clientOptions);
  const unsure = [...state.open.values()].some((job) =>
    job.name === undefined && job.file !== undefined
  );
  const found = unsure ? await client.findJobs(`embatch-${state.run.runId}-`) : new Map();
  for (const job of state.open.values()) {
    const name = job.name ?? found.get(job.displayName)?.name;
    if (name !== undefined) {
      await client.cancelJob(name);
      result.cancelled++;
    } else {
      result.notCreated++;
    }
    if (job.file !== undefined) await client.deleteFile(job.file).catch(() => {});
    await journal.append({
      t: "done",
      seq: job.seq,
      state: "CANCELLED_BY_USER",
      retry: packMembers(job.members),
    });
  }
  return result;
}
