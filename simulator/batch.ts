/**
 * The simulator's Batch API: the Files API's resumable upload, file get, list,
 * delete and download, `models/{m}:asyncBatchEmbedContent` with a file or an
 * inline source, and `batches` get, list, cancel and delete, under `v1`,
 * `v1beta` and `v1alpha`, as documented in `GEMINI_BATCH_API.md` (§2–§5, §9).
 *
 * A job's state is a function of the (fakeable) clock: `pendingMs` after it
 * is created it runs, `runningMs` later it ends. A file job's result file is
 * generated when it is downloaded, one line per input line in a seeded
 * shuffled order, so a job's results cost no memory until they are read.
 * Faults come on demand: chosen jobs end `FAILED` or `EXPIRED`, a seeded share
 * of result lines are errors, and a create that would put more tokens in
 * unfinished jobs than `maxEnqueuedTokens` gets `429 RESOURCE_EXHAUSTED`.
 *
 * @example A file job through the REST protocol
 * ```ts
 * import { BatchSimulator } from "./batch.ts";
 * import { FakeTime } from "../internal/fake_time.ts";
 * import assert from "node:assert/strict";
 *
 * using time = new FakeTime();
 * const sim = new BatchSimulator({ pendingMs: 10, runningMs: 10 }, (_text, dims) => Array(dims).fill(0.5));
 * const call = (path: string, init: RequestInit = {}) =>
 *   sim.handle(new Request(`http://sim${path}`, init));
 * const start = await call("/upload/v1beta/files", {
 *   method: "POST",
 *   headers: { "x-goog-upload-command": "start" },
 *   body: JSON.stringify({ file: { displayName: "in", mimeType: "jsonl" } }),
 * });
 * const line = '{"key":"a","request":{"content":{"parts":[{"text":"hi"}]},"outputDimensionality":2}}\n';
 * const done = await sim.handle(new Request(start.headers.get("x-goog-upload-url")!, {
 *   method: "POST",
 *   headers: { "x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0" },
 *   body: line,
 * }));
 * const { file } = await done.json();
 * const created = await call("/v1beta/models/gemini-embedding-001:asyncBatchEmbedContent", {
 *   method: "POST",
 *   body: JSON.stringify({ batch: { display_name: "job", input_config: { file_name: file.name } } }),
 * });
 * const { name } = await created.json();
 * await time.tick(20);
 * const job = await (await call(`/v1beta/${name}`)).json();
 * assert.equal(job.metadata.state, "BATCH_STATE_SUCCEEDED");
 * const results = await call(`/download/v1beta/${job.response.responsesFile}:download?alt=media`);
 * assert.deepEqual(JSON.parse(await results.text()), {
 *   response: { embedding: { values: [0.5, 0.5] }, tokenCount: "1" },
 *   key: "a",
 * });
 * ```
 *
 * @module
 */

import { now } from "../internal/clock.ts";
import { seededRandom } from "../internal/random.ts";
import { bareModel, JSON_HEADERS, ProtocolError } from "./protocol.ts";
import { countTokens } from "./quota.ts";
import { type ParsedLine, parseJobLine } from "./_batch_lines.ts";

/** The `@type` of a batch's metadata and of its response, as the API sends them. */
const BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatch";
const OUTPUT_TYPE =
  "type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatchOutput";
/** Files expire 48 hours after upload. */
const FILE_LIFETIME_MS = 48 * 3600_000;
/** The largest upload the Files API takes: 2 GB. */
const MAX_FILE_BYTES = 2_000_000_000;
/** Lines per chunk of a generated result file. */
const LINES_PER_CHUNK = 256;

/** Computes a vector: the simulator passes its own `simulatedEmbedding`. */
export type EmbedFunction = (text: string, dimensions: number, model: string) => number[];

/** Options of {@linkcode BatchSimulator}. */
export interface BatchSimulatorOptions {
  /**
   * How long a new job stays `PENDING`, in milliseconds.
   *
   * @default {2000}
   */
  pendingMs?: number;
  /**
   * How long a job then stays `RUNNING` before it ends, in milliseconds.
   *
   * @default {3000}
   */
  runningMs?: number;
  /**
   * The most tokens ({@linkcode countTokens}) that unfinished jobs may hold
   * together; a create beyond it gets `429 RESOURCE_EXHAUSTED`. Gemini's
   * tier 1 allows 500,000 for Gemini Embedding.
   *
   * @default {Infinity}
   */
  maxEnqueuedTokens?: number;
  /**
   * The share, from 0 to 1, of result lines that are `500 INTERNAL` error
   * lines instead of embeddings, drawn from the seed, the job and the key (so
   * a line retried in another job draws again).
   *
   * @default {0}
   */
  errorLineRate?: number;
  /**
   * The jobs, by creation order from 1, that end `FAILED` instead of
   * `SUCCEEDED`.
   *
   * @default {[]}
   */
  failJobs?: readonly number[];
  /**
   * The jobs, by creation order from 1, that end `EXPIRED` (in Gemini, after
   * 48 hours unfinished) instead of running.
   *
   * @default {[]}
   */
  expireJobs?: readonly number[];
  /**
   * Seeds the shuffled order of result lines and the error-line draws.
   *
   * @default {0}
   */
  seed?: number;
}

/** Counters of a {@linkcode BatchSimulator}. */
export interface BatchSimulatorStats {
  /** Files uploaded (finalized). */
  filesUploaded: number;
  /** Files deleted by a client. */
  filesDeleted: number;
  /** Jobs created. */
  jobsCreated: number;
  /** Creates refused with 429 at the enqueued-token cap. */
  createsRefused: number;
  /** Jobs cancelled by a client. */
  jobsCancelled: number;
  /** Jobs whose input (file bytes or inline requests) equals an earlier job's that did not fail. */
  duplicateJobs: number;
  /** Result lines that were embeddings, counted when a job ends. */
  linesEmbedded: number;
  /** Result lines that were errors, counted when a job ends. */
  errorLines: number;
  /** Tokens of the jobs created. */
  tokens: number;
  /** The most tokens unfinished jobs held at once. */
  peakEnqueuedTokens: number;
}

type JobState = "PENDING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED" | "EXPIRED";
type Fault = "fail" | "expire" | undefined;

interface StoredFile {
  id: string;
  displayName: string | undefined;
  mimeType: string;
  bytes: Uint8Array;
  createTime: number;
  sha256: string;
  /** For a generated result file, its job. */
  job?: Job;
}

interface Upload {
  displayName: string | undefined;
  mimeType: string;
  declared: number | undefined;
  chunks: Uint8Array[];
  received: number;
}

interface Job {
  id: string;
  ordinal: number;
  model: string;
  displayName: string | undefined;
  createTime: number;
  lines: ParsedLine[];
  inline: boolean;
  /** For an inline job, each request's `metadata`, echoed with its response. */
  metadata: unknown[];
  inputFile: string | undefined;
  tokens: number;
  fingerprint: string;
  fault: Fault;
  cancelledAt: number | undefined;
  /** Set when the job's end has been counted. */
  counted: boolean;
  /** Request counts, fixed when the job ends. */
  total: number;
  failed: number;
}

const VERSION = "(v1|v1beta|v1alpha)";
const ROUTES: [string, RegExp][] = [
  ["upload", new RegExp(`^/upload/${VERSION}/files$`)],
  ["download", new RegExp(`^(?:/download)?/${VERSION}/files/([a-z0-9-]+):download$`)],
  ["file", new RegExp(`^/${VERSION}/files/([a-z0-9-]+)$`)],
  ["files", new RegExp(`^/${VERSION}/files$`)],
  ["create", new RegExp(`^/${VERSION}/models/([^/:]+):asyncBatchEmbedContent$`)],
  ["cancel", new RegExp(`^/${VERSION}/batches/([a-z0-9-]+):cancel$`)],
  ["batch", new RegExp(`^/${VERSION}/batches/([a-z0-9-]+)$`)],
  ["batches", new RegExp(`^/${VERSION}/batches$`)],
];

/**
 * The Batch API routes of the simulator, with their files and jobs in memory.
 * The simulator's handler authenticates a request, then passes it here when
 * {@linkcode BatchSimulator.matches} says the path is a Batch API route.
 *
 * @example Refusing a create at the enqueued-token cap
 * ```ts
 * import { BatchSimulator } from "./batch.ts";
 * import assert from "node:assert/strict";
 *
 * const sim = new BatchSimulator({ maxEnqueuedTokens: 2 }, (_t, dims) => Array(dims).fill(0));
 * const create = (text: string) =>
 *   sim.handle(new Request("http://sim/v1beta/models/m:asyncBatchEmbedContent", {
 *     method: "POST",
 *     body: JSON.stringify({ batch: { inputConfig: { requests: { requests: [
 *       { request: { content: { parts: [{ text }] } } },
 *     ] } } } }),
 *   }));
 * assert.equal((await create("12345678")).status, 200);
 * const refused = await create("x");
 * assert.equal(refused.status, 429);
 * assert.equal((await refused.json()).error.status, "RESOURCE_EXHAUSTED");
 * assert.equal(sim.stats.createsRefused, 1);
 * ```
 */
export class BatchSimulator {
  readonly #options: Required<Omit<BatchSimulatorOptions, "failJobs" | "expireJobs">>;
  readonly #fail: ReadonlySet<number>;
  readonly #expire: ReadonlySet<number>;
  readonly #embed: EmbedFunction;
  readonly #files = new Map<string, StoredFile>();
  readonly #uploads = new Map<string, Upload>();
  readonly #jobs = new Map<string, Job>();
  readonly #fingerprints = new Set<string>();
  readonly #random: () => number;
  readonly #stats: BatchSimulatorStats = {
    filesUploaded: 0,
    filesDeleted: 0,
    jobsCreated: 0,
    createsRefused: 0,
    jobsCancelled: 0,
    duplicateJobs: 0,
    linesEmbedded: 0,
    errorLines: 0,
    tokens: 0,
    peakEnqueuedTokens: 0,
  };

  /**
   * Creates the routes with no files and no jobs.
   *
   * @param options Timing, cap and faults.
   * @param embed Computes one vector.
   * @throws {RangeError} If a duration is negative or not finite, the cap is
   * not a positive integer, or `errorLineRate` is outside 0–1.
   */
  constructor(options: BatchSimulatorOptions, embed: EmbedFunction) {
    const {
      pendingMs = 2000,
      runningMs = 3000,
      maxEnqueuedTokens = Infinity,
      errorLineRate = 0,
      seed = 0,
    } = options;
    for (const [name, value] of [["pendingMs", pendingMs], ["runningMs", runningMs]] as const) {
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(
          `Cannot create batch simulator: ${name} must be a non-negative finite number, received ${value}`,
        );
      }
    }
    if (
      maxEnqueuedTokens !== Infinity &&
      (!Number.isInteger(maxEnqueuedTokens) || maxEnqueuedTokens < 1)
    ) {
      throw new RangeError(
        `Cannot create batch simulator: maxEnqueuedTokens must be a positive integer, received ${maxEnqueuedTokens}`,
      );
    }
    if (!(errorLineRate >= 0 && errorLineRate <= 1)) {
      throw new RangeError(
        `Cannot create batch simulator: errorLineRate must be from 0 to 1, received ${errorLineRate}`,
      );
    }
    this.#options = { pendingMs, runningMs, maxEnqueuedTokens, errorLineRate, seed };
    this.#fail = new Set(options.failJobs ?? []);
    this.#expire = new Set(options.expireJobs ?? []);
    this.#embed = embed;
    this.#random = seededRandom(seed ^ 0x5bd1e995);
  }

  /** Counters since the simulator started; jobs that ended are counted when next seen. */
  get stats(): Readonly<BatchSimulatorStats> {
    for (const job of this.#jobs.values()) this.#state(job);
    return this.#stats;
  }

  /**
   * The bytes of an uploaded file, by the URI the Files API gave it (what a
   * `fileData` part names), so embeddings of uploaded media hash the same
   * bytes as inline ones.
   *
   * @param uri The file's `uri`, ending in `files/{id}`.
   * @returns The bytes and MIME type, or `undefined` for no such file.
   */
  uploadedFile(uri: string): { bytes: Uint8Array; mimeType: string } | undefined {
    const id = /\/files\/([a-z0-9-]+)$/.exec(uri)?.[1];
    const file = id === undefined ? undefined : this.#files.get(id);
    return file === undefined || file.job !== undefined
      ? undefined
      : { bytes: file.bytes, mimeType: file.mimeType };
  }

  /**
   * Tells whether `pathname` is one of the Batch API routes.
   *
   * @param pathname A request URL's path.
   * @returns `true` for a route {@linkcode BatchSimulator.handle} serves.
   */
  matches(pathname: string): boolean {
    return ROUTES.some(([, pattern]) => pattern.test(pathname));
  }

  /**
   * Answers one Batch API request (the caller has checked the API key).
   *
   * @param request The HTTP request.
   * @returns The answer, a Gemini error for a bad request.
   */
  async handle(request: Request): Promise<Response> {
    try {
      return await this.#route(request);
    } catch (error) {
      if (error instanceof ProtocolError) return error.toResponse();
      throw error;
    }
  }

  #route(request: Request): Promise<Response> | Response {
    const url = new URL(request.url);
    const method = request.method;
    for (const [route, pattern] of ROUTES) {
      const match = pattern.exec(url.pathname);
      if (match === null) continue;
      const [, version = "", id = ""] = match;
      switch (`${method} ${route}`) {
        case "POST upload":
          return url.searchParams.has("upload_id")
            ? this.#uploadChunk(request, url)
            : this.#startUpload(request, url, version);
        case "GET download":
          return this.#download(id);
        case "GET file":
          return json(this.#fileResource(this.#file(id), version));
        case "DELETE file": {
          const file = this.#file(id);
          this.#files.delete(id);
          this.#stats.filesDeleted++;
          // A deleted result file is never read again: free its job's requests.
          if (file.job !== undefined) file.job.lines = [];
          return json({});
        }
        case "GET files":
          return this.#listFiles(url, version);
        case "POST create":
          return this.#create(request, bareModel(decodeURIComponent(id)), version);
        case "GET batch":
          return json(this.#operation(this.#job(id), true));
        case "DELETE batch":
          this.#job(id);
          this.#jobs.delete(id);
          return json({});
        case "POST cancel":
          return this.#cancel(this.#job(id));
        case "GET batches":
          return this.#listJobs(url);
      }
      throw new ProtocolError(
        405,
        "METHOD_NOT_ALLOWED",
        `Cannot ${method} ${url.pathname}: the route does not accept ${method}`,
      );
    }
    throw new ProtocolError(404, "NOT_FOUND", `Cannot find ${method} ${url.pathname}`);
  }

  async #startUpload(request: Request, url: URL, version: string): Promise<Response> {
    if (request.headers.get("x-goog-upload-command")?.trim() !== "start") {
      throw invalid("Upload requests must start with x-goog-upload-command: start");
    }
    const text = await request.text();
    let body: Record<string, unknown> = {};
    try {
      body = text === "" ? {} : JSON.parse(text);
    } catch {
      throw invalid("Invalid JSON payload received. Unexpected token.");
    }
    const file = (body.file ?? {}) as Record<string, unknown>;
    const mimeType = request.headers.get("x-goog-upload-header-content-type") ??
      field(file, "mimeType", "mime_type");
    if (typeof mimeType !== "string" || mimeType === "") {
      throw invalid("* File.mime_type: a MIME type is required");
    }
    const length = request.headers.get("x-goog-upload-header-content-length");
    const declared = length === null ? undefined : Number(length);
    if (declared !== undefined && (!Number.isInteger(declared) || declared > MAX_FILE_BYTES)) {
      throw invalid(`* File.size_bytes: must be at most ${MAX_FILE_BYTES}, received ${length}`);
    }
    const displayName = field(file, "displayName", "display_name");
    const uploadId = randomId(this.#random, 24);
    this.#uploads.set(uploadId, {
      displayName: typeof displayName === "string" ? displayName : undefined,
      mimeType,
      declared,
      chunks: [],
      received: 0,
    });
    // The SDK replaces this URL's origin with its base URL; curl follows it as is.
    const uploadUrl =
      `${url.origin}/upload/${version}/files?upload_id=${uploadId}&upload_protocol=resumable`;
    return new Response(null, {
      headers: { "x-goog-upload-url": uploadUrl, "x-goog-upload-status": "active" },
    });
  }

  async #uploadChunk(request: Request, url: URL): Promise<Response> {
    const uploadId = url.searchParams.get("upload_id")!;
    const upload = this.#uploads.get(uploadId);
    if (upload === undefined) {
      throw new ProtocolError(404, "NOT_FOUND", `Upload ${uploadId} does not exist`);
    }
    const commands = (request.headers.get("x-goog-upload-command") ?? "").split(",").map((c) =>
      c.trim()
    );
    const offset = Number(request.headers.get("x-goog-upload-offset") ?? "0");
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (commands.includes("upload")) {
      if (offset !== upload.received) {
        throw invalid(
          `Upload offset does not match the bytes received: expected ${upload.received}, received ${offset}`,
        );
      }
      upload.chunks.push(bytes);
      upload.received += bytes.length;
    }
    if (!commands.includes("finalize")) {
      return new Response(null, { headers: { "x-goog-upload-status": "active" } });
    }
    this.#uploads.delete(uploadId);
    if (upload.declared !== undefined && upload.declared !== upload.received) {
      throw invalid(
        `Upload size does not match the declared size: expected ${upload.declared}, received ${upload.received}`,
      );
    }
    const all = new Uint8Array(upload.received);
    let at = 0;
    for (const chunk of upload.chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    const file: StoredFile = {
      id: randomId(this.#random, 12),
      displayName: upload.displayName,
      mimeType: upload.mimeType,
      bytes: all,
      createTime: now(),
      sha256: await sha256(all),
    };
    this.#files.set(file.id, file);
    this.#stats.filesUploaded++;
    const version = url.pathname.split("/")[2] ?? "v1beta";
    return json({ file: this.#fileResource(file, version) }, { "x-goog-upload-status": "final" });
  }

  #fileResource(file: StoredFile, version: string): Record<string, unknown> {
    const created = new Date(file.createTime).toISOString();
    return {
      name: `files/${file.id}`,
      ...(file.displayName !== undefined && { displayName: file.displayName }),
      mimeType: file.mimeType,
      sizeBytes: String(file.job ? this.#resultSize(file.job) : file.bytes.length),
      createTime: created,
      updateTime: created,
      expirationTime: new Date(file.createTime + FILE_LIFETIME_MS).toISOString(),
      sha256Hash: file.sha256,
      uri: `https://generativelanguage.googleapis.com/${version}/files/${file.id}`,
      ...(file.job &&
        {
          downloadUri:
            `https://generativelanguage.googleapis.com/download/${version}/files/${file.id}:download?alt=media`,
        }),
      state: "ACTIVE",
      source: file.job ? "GENERATED" : "UPLOADED",
    };
  }

  #listFiles(url: URL, version: string): Response {
    const { page, next } = paginate([...this.#files.values()], url, 10, 100);
    return json({
      files: page.map((file) => this.#fileResource(file, version)),
      ...(next !== undefined && { nextPageToken: next }),
    });
  }

  #file(id: string): StoredFile {
    const file = this.#files.get(id);
    if (file === undefined) {
      throw new ProtocolError(
        403,
        "PERMISSION_DENIED",
        `You do not have permission to access the File ${id} or it may not exist.`,
      );
    }
    return file;
  }

  #download(id: string): Response {
    const file = this.#file(id);
    if (file.job === undefined) {
      throw invalid(`Only generated files can be downloaded, and files/${id} was uploaded`);
    }
    const job = file.job;
    const order = this.#shuffled(job);
    let next = 0;
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        if (next >= order.length) return controller.close();
        let text = "";
        for (const end = Math.min(order.length, next + LINES_PER_CHUNK); next < end; next++) {
          text += JSON.stringify(this.#resultLine(job, job.lines[order[next]!]!)) + "\n";
        }
        controller.enqueue(encoder.encode(text));
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  }

  async #create(request: Request, model: string, version: string): Promise<Response> {
    const { batch, fileName, inline } = await readCreate(request);
    const { lines, fingerprint, metadata } = fileName !== undefined
      ? this.#fileSource(fileName, model, version)
      : await inlineSource(inline, model, version);
    const { tokens, enqueued } = this.#admit(model, lines);
    const ordinal = ++this.#stats.jobsCreated;
    if (this.#fingerprints.has(fingerprint)) this.#stats.duplicateJobs++;
    this.#fingerprints.add(fingerprint);
    const displayName = field(batch, "displayName", "display_name");
    const job: Job = {
      id: randomId(this.#random, 36),
      ordinal,
      model,
      displayName: typeof displayName === "string" ? displayName : undefined,
      createTime: now(),
      lines,
      inline: fileName === undefined,
      metadata,
      inputFile: fileName,
      tokens,
      fingerprint,
      fault: this.#fail.has(ordinal) ? "fail" : this.#expire.has(ordinal) ? "expire" : undefined,
      cancelledAt: undefined,
      counted: false,
      total: lines.length,
      failed: 0,
    };
    this.#jobs.set(job.id, job);
    this.#stats.tokens += tokens;
    this.#stats.peakEnqueuedTokens = Math.max(this.#stats.peakEnqueuedTokens, enqueued + tokens);
    return json(this.#operation(job, true));
  }

  /** The lines of an uploaded job file. */
  #fileSource(fileName: unknown, model: string, version: string): JobSource {
    if (typeof fileName !== "string" || !fileName.startsWith("files/")) {
      throw invalid(
        `* EmbedContentBatch.input_config.file_name: expected files/{id}, received ${
          JSON.stringify(fileName)
        }`,
      );
    }
    const file = this.#file(fileName.slice("files/".length));
    return {
      lines: parseFileLines(file.bytes, model, version),
      fingerprint: file.sha256,
      metadata: [],
    };
  }

  /** Counts the job's tokens; a 429 when they would take the enqueued tokens over the cap. */
  #admit(model: string, lines: ParsedLine[]): { tokens: number; enqueued: number } {
    const tokens = lines.reduce(
      (sum, line) => sum + ("text" in line ? countTokens(line.text) : 0),
      0,
    );
    const enqueued = this.#enqueuedTokens();
    if (enqueued + tokens > this.#options.maxEnqueuedTokens) {
      this.#stats.createsRefused++;
      throw new ProtocolError(
        429,
        "RESOURCE_EXHAUSTED",
        `Enqueued token limit exceeded for model models/${model}: ${enqueued} tokens are enqueued, this batch adds ${tokens}, and the limit is ${this.#options.maxEnqueuedTokens}. Please wait for running batches to finish.`,
      );
    }
    return { tokens, enqueued };
  }

  #cancel(job: Job): Response {
    const state = this.#state(job);
    if (state === "PENDING" || state === "RUNNING") {
      job.cancelledAt = now();
      this.#stats.jobsCancelled++;
      this.#settle(job, "CANCELLED");
    }
    return json({});
  }

  #listJobs(url: URL): Response {
    const { page, next } = paginate([...this.#jobs.values()], url, 50, 1000);
    return json({
      operations: page.map((job) => this.#operation(job, false)),
      ...(next !== undefined && { nextPageToken: next }),
    });
  }

  #job(id: string): Job {
    const job = this.#jobs.get(id);
    if (job === undefined) {
      throw new ProtocolError(404, "NOT_FOUND", `Batch batches/${id} not found.`);
    }
    return job;
  }

  #state(job: Job): JobState {
    if (job.cancelledAt !== undefined) return "CANCELLED";
    const age = now() - job.createTime;
    const { pendingMs, runningMs } = this.#options;
    if (age < pendingMs) return "PENDING";
    if (job.fault === "expire") return this.#settle(job, "EXPIRED");
    if (age < pendingMs + runningMs) return "RUNNING";
    return this.#settle(job, job.fault === "fail" ? "FAILED" : "SUCCEEDED");
  }

  /** Counts a job's end once and, for a file job that succeeded, makes its result file. */
  #settle(job: Job, state: JobState): JobState {
    if (job.counted) return state;
    job.counted = true;
    if (state !== "SUCCEEDED") {
      // A job that did not run may be submitted again without paying twice.
      this.#fingerprints.delete(job.fingerprint);
      return state;
    }
    for (const line of job.lines) {
      if (this.#lineFails(job, line)) job.failed++;
    }
    this.#stats.errorLines += job.failed;
    this.#stats.linesEmbedded += job.total - job.failed;
    if (!job.inline) {
      this.#files.set(`batch-${job.id}`, {
        id: `batch-${job.id}`,
        displayName: undefined,
        mimeType: "application/jsonl",
        bytes: new Uint8Array(0),
        createTime: job.createTime + this.#options.pendingMs + this.#options.runningMs,
        sha256: "",
        job,
      });
    }
    return state;
  }

  #enqueuedTokens(): number {
    let total = 0;
    for (const job of this.#jobs.values()) {
      const state = this.#state(job);
      if (state === "PENDING" || state === "RUNNING") total += job.tokens;
    }
    return total;
  }

  #lineFails(job: Job, line: ParsedLine): boolean {
    if ("error" in line) return true;
    const rate = this.#options.errorLineRate;
    return rate > 0 &&
      hashUnit(`${this.#options.seed}\u0000${job.ordinal}\u0000${line.key}`) < rate;
  }

  #resultLine(job: Job, line: ParsedLine): Record<string, unknown> {
    if ("error" in line) return { error: line.error, key: line.key };
    if (this.#lineFails(job, line)) {
      return {
        error: { code: 500, message: "Internal error encountered.", status: "INTERNAL" },
        key: line.key,
      };
    }
    return {
      response: {
        embedding: { values: this.#embed(line.text, line.dimensions, job.model) },
        tokenCount: String(countTokens(line.text)),
      },
      key: line.key,
    };
  }

  /** A generated file's size, estimated: its lines are made only when it is downloaded. */
  #resultSize(job: Job): number {
    return job.lines.length * 64;
  }

  /** The order of a job's result lines: a seeded Fisher–Yates shuffle. */
  #shuffled(job: Job): Uint32Array {
    const order = new Uint32Array(job.lines.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const random = seededRandom(this.#options.seed + job.ordinal * 7919);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }

  #operation(job: Job, withOutput: boolean): Record<string, unknown> {
    const state = this.#state(job);
    const terminal = state !== "PENDING" && state !== "RUNNING";
    const time = (ms: number) => new Date(ms).toISOString();
    const endTime = job.cancelledAt ??
      job.createTime + this.#options.pendingMs +
        (state === "EXPIRED" ? 0 : this.#options.runningMs);
    const output = state === "SUCCEEDED" && withOutput ? this.#output(job) : undefined;
    const metadata = {
      "@type": BATCH_TYPE,
      model: `models/${job.model}`,
      ...(job.displayName !== undefined && { displayName: job.displayName }),
      ...(job.inputFile !== undefined && { inputConfig: { fileName: job.inputFile } }),
      ...(output !== undefined && { output }),
      createTime: time(job.createTime),
      ...(terminal && { endTime: time(endTime) }),
      updateTime: time(
        terminal ? endTime : Math.min(now(), job.createTime + this.#options.pendingMs),
      ),
      batchStats: this.#batchStats(job, state),
      state: `BATCH_STATE_${state}`,
      name: `batches/${job.id}`,
    };
    return {
      name: `batches/${job.id}`,
      metadata,
      ...(terminal && { done: true }),
      ...(output !== undefined && { response: { "@type": OUTPUT_TYPE, ...output } }),
      ...(state === "FAILED" && {
        error: {
          code: 13,
          message: "The batch failed: an internal error occurred while processing it.",
        },
      }),
      ...(state === "EXPIRED" && {
        error: { code: 4, message: "The batch expired: it did not finish within 48 hours." },
      }),
      ...(state === "CANCELLED" && { error: { code: 1, message: "The batch was cancelled." } }),
    };
  }

  #output(job: Job): Record<string, unknown> {
    if (!job.inline) return { responsesFile: `files/batch-${job.id}` };
    const items = job.lines.map((line, index) => {
      const result = this.#resultLine(job, line);
      const metadata = job.metadata[index];
      return {
        ...("error" in result ? { error: result.error } : { response: result.response }),
        ...(metadata !== undefined && { metadata }),
      };
    });
    return { inlinedResponses: { inlinedResponses: items } };
  }

  #batchStats(job: Job, state: JobState): Record<string, string> {
    const total = job.total;
    if (state === "PENDING" || state === "RUNNING") {
      return { requestCount: String(total), pendingRequestCount: String(total) };
    }
    if (state !== "SUCCEEDED") {
      return { requestCount: String(total), failedRequestCount: String(total) };
    }
    const failed = job.failed;
    return {
      requestCount: String(total),
      successfulRequestCount: String(total - failed),
      ...(failed > 0 && { failedRequestCount: String(failed) }),
    };
  }
}

function parseFileLines(bytes: Uint8Array, model: string, version: string): ParsedLine[] {
  const text = new TextDecoder().decode(bytes);
  const lines: ParsedLine[] = [];
  let index = 0;
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
    lines.push(parseJobLine(value, index++, model, version));
  }
  if (lines.length === 0) {
    throw invalid("* EmbedContentBatch.input_config.file_name: the file has no requests");
  }
  return lines;
}

function field(object: Record<string, unknown>, camel: string, snake: string): unknown {
  return object[camel] ?? object[snake];
}

function invalid(message: string): ProtocolError {
  return new ProtocolError(400, "INVALID_ARGUMENT", message);
}

function json(body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { headers: { ...JSON_HEADERS, ...headers } });
}

function paginate<T>(
  items: T[],
  url: URL,
  fallback: number,
  max: number,
): { page: T[]; next?: string } {
  const size = Math.min(
    max,
    Number(url.searchParams.get("pageSize") ?? url.searchParams.get("page_size")) || fallback,
  );
  const start =
    Number(url.searchParams.get("pageToken") ?? url.searchParams.get("page_token") ?? "0") || 0;
  const page = items.slice(start, start + size);
  return start + size < items.length ? { page, next: String(start + size) } : { page };
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomId(random: () => number, length: number): string {
  let id = "";
  for (let i = 0; i < length; i++) id += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return id;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** A number in [0, 1) from a string: FNV-1a, finished with murmur3's fmix32. */
function hashUnit(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 4294967296;
}

/** A job's requests, and what identifies them for the duplicate-job count. */
interface JobSource {
  lines: ParsedLine[];
  fingerprint: string;
  metadata: unknown[];
}

/** The create call's body: the batch, and exactly one of a file name and inline requests. */
async function readCreate(request: Request): Promise<{
  batch: Record<string, unknown>;
  fileName: string | undefined;
  inline: Record<string, unknown> | undefined;
}> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(await request.text());
  } catch {
    throw invalid("Invalid JSON payload received. Unexpected token.");
  }
  const batch = body?.batch as Record<string, unknown> | undefined;
  if (typeof batch !== "object" || batch === null) {
    throw invalid("* EmbedContentBatch: batch is required");
  }
  const input = field(batch, "inputConfig", "input_config") as
    | Record<string, unknown>
    | undefined;
  if (typeof input !== "object" || input === null) {
    throw invalid("* EmbedContentBatch.input_config: input_config is required");
  }
  const fileName = field(input, "fileName", "file_name");
  const inline = input.requests as Record<string, unknown> | undefined;
  if ((fileName === undefined) === (inline === undefined)) {
    throw invalid(
      "* EmbedContentBatch.input_config.source: exactly one of file_name and requests must be set",
    );
  }
  return { batch, fileName: fileName as string | undefined, inline };
}

/** The requests of an inline job. */
async function inlineSource(
  inline: Record<string, unknown> | undefined,
  model: string,
  version: string,
): Promise<JobSource> {
  const requests = inline?.requests;
  if (!Array.isArray(requests) || requests.length === 0) {
    throw invalid(
      "* EmbedContentBatch.input_config.requests.requests: at least one request is required",
    );
  }
  return {
    lines: requests.map((item, index) =>
      parseJobLine({ ...item, key: String(index) }, index, model, version)
    ),
    metadata: requests.map((item) => item?.metadata),
    fingerprint: await sha256(new TextEncoder().encode(JSON.stringify(requests))),
  };
}
