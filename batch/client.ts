/**
 * The Batch API calls embatch makes, through the `@google/genai` SDK where
 * 3.3.0 serves them whole (files upload and delete, batches create, list and
 * cancel), and through plain HTTP where it drops what embatch needs: a job's
 * `batchStats` and `error` (the SDK's `BatchJob` maps neither, spec §1.4), and
 * the result file, which the SDK only writes to a path (§3.3) while embatch
 * streams it. The API key travels in the `x-goog-api-key` header only and is
 * redacted from every error message.
 *
 * @module
 */

import { ApiError, GoogleGenAI } from "@google/genai";
import { sleep } from "../internal/sleep.ts";
import { GeminiApiError, redactSecret } from "../errors.ts";

/** Options of {@linkcode BatchApiClient}. */
export interface BatchApiClientOptions {
  /** The Gemini API key. */
  apiKey: string;
  /**
   * The API's base URL.
   *
   * @default {"https://generativelanguage.googleapis.com"}
   */
  baseUrl?: string;
  /**
   * The API version. The SDK's default is `v1`, but Google documents and
   * serves the Batch API under `v1beta` (spec §8.1).
   *
   * @default {"v1beta"}
   */
  apiVersion?: string;
  /**
   * Attempts per call for transient failures (network errors, 408, 429 on
   * reads, 5xx), with exponential backoff from one second. Creates are not
   * retried here: the engine decides, because a create is not idempotent.
   *
   * @default {4}
   */
  attempts?: number;
}

/** A job's state without the `BATCH_STATE_`/`JOB_STATE_` prefix, such as `"RUNNING"`. */
export type JobState = string;

/** What embatch reads of a batch job. */
export interface JobStatus {
  /** The job's name, `batches/…`. */
  name: string;
  /** The state, such as `"PENDING"` or `"SUCCEEDED"`. */
  state: JobState;
  /** The display name it was created with. */
  displayName?: string;
  /** The result file (`files/…`) of a job that succeeded. */
  resultFile?: string;
  /** Inline results of a job that succeeded with them. */
  inline?: Record<string, unknown>[];
  /** Request counts from `batchStats`. */
  stats: { total: number; succeeded: number; failed: number; pending: number };
  /** Why it failed, when it did. */
  error?: { code: number; message: string };
}

/** Terminal job states. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set([
  "SUCCEEDED",
  "FAILED",
  "CANCELLED",
  "EXPIRED",
]);

/**
 * The calls of a Batch API run.
 *
 * @example Uploading a job file and creating a job on the simulator
 * ```ts
 * import { BatchApiClient } from "./client.ts";
 * import { startSimulator } from "../simulator/server.ts";
 * import assert from "node:assert/strict";
 *
 * await using simulator = startSimulator();
 * const client = new BatchApiClient({ apiKey: "any", baseUrl: simulator.url });
 * const file = await client.uploadJobFile(
 *   new Blob(['{"key":"0","request":{"content":{"parts":[{"text":"hi"}]}}}\n']),
 *   "example",
 * );
 * const job = await client.createJob("gemini-embedding-001", file, "example-job");
 * assert.equal(job.state, "PENDING");
 * assert.equal((await client.getJob(job.name)).stats.total, 1);
 * ```
 */
export class BatchApiClient {
  readonly #ai: GoogleGenAI;
  readonly #key: string;
  readonly #base: string;
  readonly #version: string;
  readonly #attempts: number;

  /**
   * Creates the client; no call is made.
   *
   * @param options Key, base URL, API version and attempts.
   * @throws {RangeError} If `attempts` is not a positive integer.
   */
  constructor(options: BatchApiClientOptions) {
    const {
      apiKey,
      baseUrl = "https://generativelanguage.googleapis.com",
      apiVersion = "v1beta",
      attempts = 4,
    } = options;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new RangeError(
        `Cannot create batch client: attempts must be a positive integer, received ${attempts}`,
      );
    }
    this.#key = apiKey;
    this.#base = baseUrl.replace(/\/+$/, "");
    this.#version = apiVersion;
    this.#attempts = attempts;
    this.#ai = new GoogleGenAI({ apiKey, apiVersion, httpOptions: { baseUrl: this.#base } });
  }

  /**
   * Uploads a job's input file with the Files API's resumable upload.
   *
   * @param file The JSONL bytes.
   * @param displayName The file's display name.
   * @returns The file's name, `files/…`.
   */
  uploadJobFile(file: Blob, displayName: string): Promise<string> {
    return this.#retrying(async () => {
      const uploaded = await this.#ai.files.upload({
        file,
        // `.jsonl` has no MIME type in the SDK's table (spec §4.1); this is the docs' value.
        config: { mimeType: "jsonl", displayName },
      });
      if (uploaded.name === undefined) throw new TypeError("The upload answered no file name");
      return uploaded.name;
    });
  }

  /**
   * Creates an embeddings batch job from an uploaded file, once (no retry:
   * a create that fails may still have reached the server).
   *
   * @param model The model, with or without `models/`.
   * @param file The input file, `files/…`.
   * @param displayName The job's display name.
   * @returns The new job.
   * @throws {GeminiApiError} If the API refuses, such as `429` at the enqueued-token cap.
   */
  createJob(model: string, file: string, displayName: string): Promise<JobStatus> {
    return this.#translate(async () => {
      const job = await withoutExperimentalWarning(() =>
        this.#ai.batches.createEmbeddings({
          model,
          src: { fileName: file },
          config: { displayName },
        })
      );
      return {
        name: job.name ?? "",
        state: bareState(job.state),
        ...(job.displayName !== undefined && { displayName: job.displayName }),
        stats: { total: 0, succeeded: 0, failed: 0, pending: 0 },
      };
    });
  }

  /**
   * Reads a job over REST, with its `batchStats`, output and error.
   *
   * @param name The job's name, `batches/…`.
   * @returns Its status.
   */
  getJob(name: string): Promise<JobStatus> {
    return this.#retrying(async () => {
      const response = await this.#fetch(`${this.#base}/${this.#version}/${name}`);
      return operationToStatus(await response.json());
    });
  }

  /**
   * Lists this project's jobs whose display name starts with `prefix`.
   *
   * @param prefix The display-name prefix.
   * @returns The jobs found, by display name.
   */
  findJobs(prefix: string): Promise<Map<string, JobStatus>> {
    return this.#retrying(async () => {
      const found = new Map<string, JobStatus>();
      for await (const job of await this.#ai.batches.list({ config: { pageSize: 100 } })) {
        if (job.displayName?.startsWith(prefix) && job.name !== undefined) {
          found.set(job.displayName, {
            name: job.name,
            state: bareState(job.state),
            displayName: job.displayName,
            stats: { total: 0, succeeded: 0, failed: 0, pending: 0 },
          });
        }
      }
      return found;
    });
  }

  /**
   * Lists this project's files whose display name starts with `prefix`.
   *
   * @param prefix The display-name prefix.
   * @returns The file names (`files/…`) found, by display name.
   */
  findFiles(prefix: string): Promise<Map<string, string>> {
    return this.#retrying(async () => {
      const found = new Map<string, string>();
      for await (const file of await this.#ai.files.list({ config: { pageSize: 100 } })) {
        if (file.displayName?.startsWith(prefix) && file.name !== undefined) {
          found.set(file.displayName, file.name);
        }
      }
      return found;
    });
  }

  /**
   * Asks the API to cancel a job (best effort; it ends `CANCELLED` later).
   *
   * @param name The job's name.
   */
  cancelJob(name: string): Promise<void> {
    return this.#retrying(() => this.#ai.batches.cancel({ name }));
  }

  /**
   * Deletes a file; a file already gone is not an error.
   *
   * @param name The file's name, `files/…`.
   */
  async deleteFile(name: string): Promise<void> {
    try {
      await this.#retrying(() => this.#ai.files.delete({ name }));
    } catch (error) {
      if (!(error instanceof GeminiApiError) || (error.status !== 404 && error.status !== 403)) {
        throw error;
      }
    }
  }

  /**
   * Streams a result file's lines, without holding the file in memory.
   *
   * @param name The file's name, `files/…`.
   * @param signal Stops the download.
   * @returns The lines, without newlines; blank lines skipped.
   */
  async *downloadLines(name: string, signal?: AbortSignal): AsyncGenerator<string> {
    const id = name.replace(/^files\//, "");
    const response = await this.#retrying(() =>
      this.#fetch(`${this.#base}/download/${this.#version}/files/${id}:download?alt=media`, signal)
    );
    let rest = "";
    for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line.trim() !== "") yield line;
    }
    if (rest.trim() !== "") yield rest;
  }

  async #fetch(url: string, signal?: AbortSignal): Promise<Response> {
    const response = await fetch(url, {
      headers: { "x-goog-api-key": this.#key },
      ...(signal !== undefined && { signal }),
    });
    if (!response.ok) {
      throw GeminiApiError.fromBody(
        response.status,
        redactSecret(await response.text(), this.#key),
      );
    }
    return response;
  }

  /** Runs `call`, turning the SDK's ApiError into a GeminiApiError with the key redacted. */
  async #translate<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ApiError) {
        throw GeminiApiError.fromBody(error.status, redactSecret(error.message, this.#key), {
          cause: error,
        });
      }
      if (error instanceof Error && error.message.includes(this.#key)) {
        throw new Error(redactSecret(error.message, this.#key));
      }
      throw error;
    }
  }

  async #retrying<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#translate(call);
      } catch (error) {
        if (attempt >= this.#attempts || !isTransient(error)) throw error;
        await sleep(1000 * 2 ** (attempt - 1));
      }
    }
  }
}

/** Whether a failed call may succeed if made again. */
export function isTransient(error: unknown): boolean {
  if (error instanceof GeminiApiError) {
    return error.status === 408 || error.status === 429 || error.status >= 500;
  }
  return error instanceof TypeError; // fetch's network failures
}

/**
 * Calls `start`, hiding the one warning `batches.createEmbeddings` prints on
 * every call ("is experimental"): it is printed synchronously before the
 * call's first await, so only that moment is covered, and other warnings pass.
 */
function withoutExperimentalWarning<T>(start: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].includes("is experimental")) return;
    warn(...args);
  };
  try {
    return start();
  } finally {
    console.warn = warn;
  }
}

function bareState(state: string | undefined): JobState {
  return (state ?? "UNSPECIFIED").replace(/^(BATCH|JOB)_STATE_/, "");
}

function operationToStatus(operation: Record<string, unknown>): JobStatus {
  const metadata = (operation.metadata ?? {}) as Record<string, unknown>;
  const output = (metadata.output ?? operation.response ?? {}) as Record<string, unknown>;
  const counts = (metadata.batchStats ?? {}) as Record<string, string | undefined>;
  const count = (field: string) => Number(counts[field] ?? 0) || 0;
  const inline = output.inlinedResponses as Record<string, unknown> | undefined;
  const error = operation.error as { code?: number; message?: string } | undefined;
  return {
    name: String(operation.name ?? metadata.name ?? ""),
    state: bareState(metadata.state as string | undefined),
    ...(typeof metadata.displayName === "string" && { displayName: metadata.displayName }),
    ...(typeof output.responsesFile === "string" && { resultFile: output.responsesFile }),
    ...(inline !== undefined && {
      inline: (inline.inlinedResponses ?? []) as Record<string, unknown>[],
    }),
    stats: {
      total: count("requestCount"),
      succeeded: count("successfulRequestCount"),
      failed: count("failedRequestCount"),
      pending: count("pendingRequestCount"),
    },
    ...(error !== undefined && {
      error: { code: error.code ?? 0, message: error.message ?? "" },
    }),
  };
}
