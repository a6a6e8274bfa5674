/**
 * Resuming a CLI run: reads the output file an earlier run left behind,
 * collects the ids that already have an embedding, and repairs the file so
 * that the new run can append to it.
 *
 * - A torn last line (a run killed in the middle of a write leaves a line
 *   without its `\n`) is truncated away; its input is embedded again.
 * - Error records are dropped, so that their inputs are tried again and the
 *   file ends with exactly one record per id. So are repeated records of an
 *   id. Dropping rewrites the file to a temporary file beside it, which then
 *   replaces it (a crash in between leaves the original whole).
 * - Any other line that is not a record embatch writes stops the resume with
 *   an error naming the line: the file is not touched.
 *
 * @module
 */

import { IdSet } from "./_id_set.ts";
import { exactNumericId } from "./_json_id.ts";
import { splitLines } from "./_lines.ts";
import { JsonlWriter } from "./output.ts";

/** What {@linkcode prepareResume} found and did. */
export interface ResumeState {
  /** Whether the output file existed. */
  exists: boolean;
  /** The ids that have an embedding: skip them. */
  done: IdSet;
  /** Embedding records kept. */
  embedded: number;
  /** Error records dropped (their inputs are retried). */
  errors: number;
  /** Repeated records of an id dropped. */
  duplicates: number;
  /** Bytes of a torn last line truncated away (0 when the file ended cleanly). */
  tornBytes: number;
  /** The length of the kept vectors, when there are any. */
  dimensions: number | undefined;
  /** Records dropped because `isStale` said their text changed (their inputs are embedded again). */
  stale: number;
  /** Whether the file was rewritten to drop error, repeated or stale records. */
  compacted: boolean;
}

/** Options of {@linkcode prepareResume}. */
export interface PrepareResumeOptions {
  /**
   * The vector length the new run will produce; a file with other lengths is
   * refused rather than mixed. Unset: the file's vectors need only agree with
   * each other.
   *
   * @default {undefined}
   */
  dimensions?: number;
  /**
   * Says whether an embedding record is stale (its input's text changed), given
   * its id and its `cache_key` (undefined when it has none); stale records are
   * dropped like error records, so that their inputs are embedded again.
   * Unset: none is stale.
   *
   * @default {undefined}
   */
  isStale?: (id: string | number | bigint, cacheKey: string | undefined) => boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

interface ParsedRecord {
  id: string | number | bigint;
  embedding: number[] | undefined;
  cacheKey: string | undefined;
}

/**
 * Scans and repairs the output file at `path` for a resumed run. A missing
 * file is an empty result (the run starts from the beginning).
 *
 * @param path The output file.
 * @param options The vector length the new run will produce.
 * @returns The ids already embedded and what was repaired.
 * @throws {Error} If a line (other than a torn last one) is not an embatch
 * record, or vector lengths disagree; the file is then left untouched.
 * @throws {Deno.errors.PermissionDenied} If the file cannot be read or written.
 *
 * @example Repairing a torn last line
 * ```ts
 * import { prepareResume } from "./resume.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * await Deno.writeTextFile(path, '{"id":0,"embedding":[1,0]}\n{"id":1,"embedd');
 * const state = await prepareResume(path);
 * assert.ok(state.done.has(0));
 * assert.ok(!state.done.has(1));
 * assert.equal(state.tornBytes, 15);
 * assert.equal(await Deno.readTextFile(path), '{"id":0,"embedding":[1,0]}\n');
 * await Deno.remove(path);
 * ```
 */
export async function prepareResume(
  path: string,
  options: PrepareResumeOptions = {},
): Promise<ResumeState> {
  const state: ResumeState = {
    exists: false,
    done: new IdSet(),
    embedded: 0,
    errors: 0,
    duplicates: 0,
    tornBytes: 0,
    dimensions: options.dimensions,
    stale: 0,
    compacted: false,
  };
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return state;
    throw error;
  }
  state.exists = true;
  let keepBytes = 0;
  let size = 0;
  let dimensionsLine = 0;
  const stale = new StaleFilter(options.isStale);
  try {
    size = (await file.stat()).size;
    for await (const line of splitLines(file.readable)) {
      if (!line.terminated) break; // a torn last line: cut off below
      keepBytes = line.end;
      const record = parseRecord(line.bytes, path, line.number);
      if (record.embedding === undefined) {
        state.errors++;
        continue;
      }
      if (state.done.has(record.id)) {
        state.duplicates++;
        continue;
      }
      if (stale.isStale(record)) {
        state.stale++;
        continue;
      }
      state.done.add(record.id);
      state.embedded++;
      if (state.dimensions === undefined) {
        state.dimensions = record.embedding.length;
        dimensionsLine = line.number;
      } else if (record.embedding.length !== state.dimensions) {
        const expected = options.dimensions === undefined
          ? `the ${state.dimensions} of line ${dimensionsLine + 1}`
          : `the ${state.dimensions} asked for with --dimensions`;
        throw new Error(
          `Cannot resume from ${path}: line ${
            line.number + 1
          } has a vector of ${record.embedding.length} values, not ${expected}; use the same --dimensions as the earlier run, or another output file`,
        );
      }
    }
  } finally {
    try {
      file.close();
    } catch {
      // already closed by its readable reaching the end
    }
  }
  state.tornBytes = size - keepBytes;
  if (state.tornBytes > 0) await Deno.truncate(path, keepBytes);
  if (state.errors > 0 || state.duplicates > 0 || state.stale > 0) {
    await compact(path, stale);
    state.compacted = true;
  }
  return state;
}

/**
 * Asks `isStale` once per id: the first record of an id decides it, in the
 * scan and again in the compaction (a later record of the id is a repeat).
 */
class StaleFilter {
  #isStale: PrepareResumeOptions["isStale"];
  #stale = new IdSet();

  constructor(isStale: PrepareResumeOptions["isStale"]) {
    this.#isStale = isStale;
  }

  isStale(record: ParsedRecord): boolean {
    if (this.#stale.has(record.id)) return true;
    if (this.#isStale?.(record.id, record.cacheKey) !== true) return false;
    this.#stale.add(record.id);
    return true;
  }

  /** In the compaction: whether the record's id was found stale by the scan. */
  was(record: ParsedRecord): boolean {
    return this.#stale.has(record.id);
  }
}

/** Rewrites `path` keeping only the first embedding record of each id, unless it is stale. */
async function compact(path: string, stale: StaleFilter): Promise<void> {
  const temporary = `${path}.embatch-resume`;
  const source = await Deno.open(path, { read: true });
  const target = await Deno.open(temporary, { write: true, create: true, truncate: true });
  try {
    const writer = new JsonlWriter(target, { bufferSize: 1 << 20, flushInterval: Infinity });
    const seen = new IdSet();
    for await (const line of splitLines(source.readable)) {
      const record = parseRecord(line.bytes, path, line.number);
      if (record.embedding === undefined || stale.was(record) || !seen.add(record.id)) continue;
      await writer.write(decoder.decode(line.bytes));
    }
    await writer.close();
    await target.sync();
  } catch (error) {
    target.close();
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  target.close();
  await Deno.rename(temporary, path);
}

function parseRecord(bytes: Uint8Array, path: string, line: number): ParsedRecord {
  const refuse = (why: string): never => {
    throw new Error(
      `Cannot resume from ${path}: line ${
        line + 1
      } ${why}, so the file was not written by embatch; fix or remove that line, or start over with --overwrite`,
    );
  };
  let value: unknown;
  let text = "";
  try {
    text = decoder.decode(bytes);
    value = JSON.parse(text);
  } catch (error) {
    return refuse(
      error instanceof SyntaxError ? `is not valid JSON (${error.message})` : "is not UTF-8",
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return refuse("is not a JSON object");
  }
  const { embedding, error, cache_key: key } = value as Record<string, unknown>;
  let id = (value as Record<string, unknown>).id;
  if (typeof id === "number") id = exactNumericId(text, id); // as written, even beyond 2^53
  if (typeof id !== "string" && typeof id !== "number" && typeof id !== "bigint") {
    return refuse('has no "id"');
  }
  if (Array.isArray(embedding)) {
    if (!embedding.every((v) => typeof v === "number")) {
      return refuse('has an "embedding" that is not all numbers');
    }
    return { id, embedding, cacheKey: typeof key === "string" ? key : undefined };
  }
  if (typeof error === "object" && error !== null) {
    return { id, embedding: undefined, cacheKey: undefined };
  }
  return refuse('has neither "embedding" nor "error"');
}
