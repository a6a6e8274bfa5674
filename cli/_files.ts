// Internal: opening a corpus run's input and output before anything is
// written. A failure here is the user's to fix (exit 2), so it is thrown as a
// `SetupError` whose message is the line to print.

import { formatFromPath, type InputFormat } from "./input.ts";
import type { CliOptions } from "./args.ts";
import type { MainIO } from "./io.ts";
import type { WritableSink } from "./output.ts";
import { prepareResume, type ResumeState } from "./resume.ts";
import { describeFileError } from "./_describe.ts";
import {
  applySettings,
  readSettings,
  settingsOf,
  settingsPath,
  writeSettings,
} from "./_settings.ts";
import { staleCheck } from "./_refresh.ts";

/** A file or flag the run cannot start with; the message is the line to print. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}

/** The opened corpus input. */
export interface CorpusInput {
  /** The name to show: the path, or `stdin`. */
  name: string;
  source: ReadableStream<Uint8Array>;
  format: InputFormat;
  /** The file's size, when it is a regular file. */
  totalBytes: number | undefined;
  /** The open file, closed by whoever holds this. */
  file: Deno.FsFile | undefined;
}

/** The opened corpus output, locked, and repaired and read first for `--resume`. */
export interface CorpusOutput {
  /** The name to show: the path, or `stdout`. */
  name: string;
  sink: WritableSink;
  /** The open file (`undefined` for stdout), closed by whoever holds this; closing it releases the lock. */
  file: Deno.FsFile | undefined;
  /** What `--resume` found in the file. */
  resume: ResumeState | undefined;
  /** The options with what the file was made with filled in (for `--resume`). */
  options: CliOptions;
}

/** Opens `--input` (or stdin). */
export async function openInput(options: CliOptions, io: MainIO): Promise<CorpusInput> {
  const path = options.input ?? "-";
  if (path === "-") {
    return {
      name: "stdin",
      source: io.stdin ?? Deno.stdin.readable,
      format: options.format ?? "text",
      totalBytes: undefined,
      file: undefined,
    };
  }
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (info.isDirectory) throw new Error("it is a directory");
    return {
      name: path,
      source: file.readable,
      format: options.format ?? formatFromPath(path),
      totalBytes: info.isFile ? info.size : undefined,
      file,
    };
  } catch (error) {
    file?.close();
    throw new SetupError(`embatch: cannot read --input ${path}: ${describeFileError(error)}`);
  }
}

/** How often opening the output retries when the path was replaced while it was being locked. */
const LOCK_RETRIES = 5;

/**
 * Opens `--output` (or stdout) for the whole run: takes an exclusive lock on
 * it (the operating system drops it when the process ends, even on
 * `kill -9`), checks it is not the input file, refuses to overwrite it, or
 * repairs it for `--resume` and fills in the settings it was made with.
 */
export async function openOutput(
  options: CliOptions,
  io: MainIO,
  input: CorpusInput,
): Promise<CorpusOutput> {
  const path = options.output;
  if (path === "-") {
    const sink = io.output ?? Deno.stdout;
    return { name: "stdout", sink, file: undefined, resume: undefined, options };
  }
  await refuseInput(path, input);
  if (!options.resume && !options.overwrite) await refuseExisting(path);
  let file = await openLocked(path);
  try {
    let effective = options;
    let resume: ResumeState | undefined;
    if (options.resume) {
      const recorded = await recordedSettings(options, path);
      effective = recorded ?? options;
      resume = await resumeOutput(path, effective);
      if (resume.compacted) file = await relock(file, path); // the rewrite replaced the file
      if (!recorded && effective.dimensions === undefined && resume.dimensions !== undefined) {
        // No record of the settings: keep to the length of the vectors already there.
        effective = { ...effective, dimensions: resume.dimensions };
      }
      await file.seek(0, Deno.SeekMode.End);
    }
    // A device or a pipe (/dev/null, /dev/full, a FIFO) is written as it is, with no settings record.
    if ((await file.stat()).isFile) {
      if (!options.resume) await file.truncate(0);
      await writeSettings(path, settingsOf(effective)).catch((error) => {
        throw new SetupError(
          `embatch: cannot write ${
            settingsPath(path)
          } (what --output was made with, for --resume): ${describeFileError(error)}`,
        );
      });
    }
    return { name: path, sink: file, file, resume, options: effective };
  } catch (error) {
    file.close();
    if (error instanceof SetupError) throw error;
    throw new SetupError(`embatch: cannot write --output ${path}: ${describeFileError(error)}`);
  }
}

/** Opens `path` for writing and locks it, or throws if another run holds it. */
async function openLocked(path: string): Promise<Deno.FsFile> {
  for (let attempt = 0;; attempt++) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (error) {
      throw new SetupError(`embatch: cannot write --output ${path}: ${describeFileError(error)}`);
    }
    if (!(await file.tryLock(true))) {
      file.close();
      throw new SetupError(
        `embatch: --output ${path} is in use: another embatch run holds it (wait for that run to end, or pick another --output)`,
      );
    }
    // Locked, but the path may have been replaced meanwhile (a resume's rewrite): lock what it names now.
    const [held, named] = await Promise.all([file.stat(), Deno.stat(path).catch(() => undefined)]);
    if (named !== undefined && sameFile(held, named)) return file;
    file.close();
    if (attempt >= LOCK_RETRIES) {
      throw new SetupError(`embatch: cannot lock --output ${path}: it keeps being replaced`);
    }
  }
}

/** Locks the file now at `path` (after a rewrite replaced it), then lets go of the old one. */
async function relock(old: Deno.FsFile, path: string): Promise<Deno.FsFile> {
  try {
    return await openLocked(path);
  } finally {
    old.close();
  }
}

/** Refuses an output that is the input file, however it is named (same path, symlink or hard link). */
async function refuseInput(path: string, input: CorpusInput): Promise<void> {
  if (input.file === undefined) return;
  const output = await Deno.stat(path).catch(() => undefined);
  if (output !== undefined && sameFile(output, await input.file.stat())) {
    throw new SetupError(
      `embatch: --output must not be the --input file: ${path} is ${input.name} (the same file, by device and inode)`,
    );
  }
}

function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino !== null && a.ino === b.ino;
}

/**
 * The options with the settings recorded beside the output filled in
 * (`undefined` when there is no record), or a SetupError on a mismatch.
 */
async function recordedSettings(
  options: CliOptions,
  path: string,
): Promise<CliOptions | undefined> {
  let recorded;
  try {
    recorded = await readSettings(path);
  } catch (error) {
    throw new SetupError(`embatch: ${(error as Error).message}`);
  }
  if (recorded === undefined) return undefined;
  const merged = applySettings(options, recorded, path);
  if (typeof merged === "string") throw new SetupError(merged);
  return merged;
}

async function resumeOutput(path: string, options: CliOptions): Promise<ResumeState> {
  let isStale;
  try {
    isStale = options.refreshChanged ? await staleCheck(options) : undefined;
  } catch (error) {
    throw new SetupError(
      `embatch: cannot read --input ${options.input} for --refresh-changed: ${
        describeFileError(error)
      }`,
    );
  }
  try {
    return await prepareResume(path, {
      ...(options.dimensions !== undefined && { dimensions: options.dimensions }),
      ...(isStale !== undefined && { isStale }),
    });
  } catch (error) {
    throw new SetupError(
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
        ? `embatch: cannot resume --output ${path}: ${describeFileError(error)}`
        : `embatch: ${(error as Error).message}`,
    );
  }
}

async function refuseExisting(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw new SetupError(`embatch: cannot write --output ${path}: ${describeFileError(error)}`);
  }
  if (!info.isFile || info.size > 0) {
    throw new SetupError(
      `embatch: --output ${path} already exists: pass --resume to continue it, or --overwrite to replace it`,
    );
  }
}
