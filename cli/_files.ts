// Internal: opening a corpus run's input and output before anything is
// written. A failure here is the user's to fix (exit 2), so it is thrown as a
// `SetupError` whose message is the line to print.

import { formatFromPath, type InputFormat } from "./input.ts";
import type { CliOptions } from "./args.ts";
import type { MainIO } from "./io.ts";
import type { WritableSink } from "./output.ts";
import { prepareResume, type ResumeState } from "./resume.ts";
import { describeFileError } from "./_describe.ts";
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

/** The opened corpus output, repaired and read first for `--resume`. */
export interface CorpusOutput {
  /** The name to show: the path, or `stdout`. */
  name: string;
  sink: WritableSink;
  /** The open file (`undefined` for stdout), closed by whoever holds this. */
  file: Deno.FsFile | undefined;
  /** What `--resume` found in the file. */
  resume: ResumeState | undefined;
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

/** Opens `--output` (or stdout): refuses to overwrite, or repairs it for `--resume`. */
export async function openOutput(options: CliOptions, io: MainIO): Promise<CorpusOutput> {
  const path = options.output;
  if (path === "-") {
    return { name: "stdout", sink: io.output ?? Deno.stdout, file: undefined, resume: undefined };
  }
  const resume = options.resume ? await resumeOutput(path, options) : undefined;
  if (!options.resume && !options.overwrite) await refuseExisting(path);
  try {
    const file = await Deno.open(path, {
      write: true,
      create: true,
      ...(options.resume ? { append: true } : { truncate: true }),
    });
    return { name: path, sink: file, file, resume };
  } catch (error) {
    throw new SetupError(`embatch: cannot write --output ${path}: ${describeFileError(error)}`);
  }
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
