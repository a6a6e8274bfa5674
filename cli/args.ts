/**
 * Command-line flags of `main.ts`: parsing, validation and the usage text.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { GEMINI_TASK_TYPES, type GeminiTaskType } from "../gemini/task_types.ts";
import { DEFAULT_MODEL } from "../gemini/models.ts";
import type { InputFormat } from "./input.ts";
import type { SimulatorHandlerOptions } from "../simulator/server.ts";
import {
  SIMULATOR_FLAGS,
  simulatorFlagOptions,
  simulatorFlagsHelp,
  simulatorOptionsFromFlags,
} from "../simulator/flags.ts";
import { cacheMaxSize, duration, integer, positiveDuration, url } from "./_flags.ts";
import { UsageError } from "./usage_error.ts";

export { UsageError } from "./usage_error.ts";

/** The CLI's settings once parsed and validated. */
export interface CliOptions {
  /** Show the help text and exit. */
  help: boolean;
  /** The most inputs in one batch (one API call). */
  batchSize: number;
  /** The longest a batch's first input waits, in milliseconds. */
  timeoutMs: number;
  /** How many demo inputs to generate. */
  inputs: number;
  /** The longest random delay before each demo input, in milliseconds. */
  maxDelayMs: number;
  /** Dimensions of each embedding (`outputDimensionality`); unset means the model's default. */
  dimensions: number | undefined;
  /** The Gemini embedding model. */
  model: string;
  /** Base URL of the Gemini API (or of a simulator); unset means the SDK's default. */
  baseUrl: string | undefined;
  /** Use the in-process simulator even when an API key is set. */
  simulate: boolean;
  /** Size batches to the arrival rate and call latency; `timeoutMs` is then the maximum wait. */
  adaptive: boolean;
  /** Seed for the demo's arrival delays. */
  seed: number;
  /**
   * The simulator's settings from the `--simulate-*` flags, with the default
   * latency filled in (50 ms for the demo, 0 for a corpus run).
   */
  simulator: SimulatorHandlerOptions;
  /** The corpus to embed (`-` for stdin); unset runs the demo. */
  input: string | undefined;
  /** Where records go (`-` for stdout). */
  output: string;
  /** How the input is read; unset picks by extension (`.jsonl` is JSONL). */
  format: InputFormat | undefined;
  /** The JSONL field holding the text. */
  textField: string;
  /** The JSONL field holding a document's title. */
  titleField: string;
  /** Scale every vector to unit length (`--no-normalize` turns it off). */
  normalize: boolean;
  /** The Gemini task type, when set. */
  taskType: GeminiTaskType | undefined;
  /** The most calls in flight at once, when set. */
  concurrency: number | undefined;
  /** The most calls per minute, when set. */
  rpm: number | undefined;
  /** The most (estimated) tokens per minute, when set. */
  tpm: number | undefined;
  /** The most calls for one batch, retries included, when set. */
  maxAttempts: number | undefined;
  /** How long one API call may take before it is retried, in milliseconds, when set. */
  callTimeoutMs: number | undefined;
  /** How long an outage (after calls have succeeded) is waited out, in milliseconds, when set. */
  maxOutageMs: number | undefined;
  /** Cut texts over the token limit instead of writing `TOKEN_LIMIT` error records. */
  truncate: boolean;
  /** The most estimated tokens per text, when set (the library's default otherwise). */
  maxInputTokens: number | undefined;
  /** The flags given on the command line, by name without `--` (defaults are not in it). */
  flagsGiven: ReadonlySet<string>;
  /** Continue an earlier run's output instead of starting over. */
  resume: boolean;
  /** Replace an existing output file. */
  overwrite: boolean;
  /** No progress and no summary. */
  quiet: boolean;
  /** How long in-flight calls may finish after Ctrl-C, in milliseconds. */
  graceMs: number;
  /** How often a progress line is printed when stderr is not a terminal, in milliseconds. */
  progressIntervalMs: number;
  /** The embedding cache file as given (`default` for the user's cache directory), when set. */
  cache: string | undefined;
  /** The most bytes the cache's entries may take, when set. */
  cacheMaxSize: number | undefined;
  /** With `resume` and `cache`: embed again the ids whose text changed since their record. */
  refreshChanged: boolean;
  /** Embed through Gemini's Batch API (jobs) instead of the online endpoint. */
  batchApi: boolean;
  /** Estimated input tokens per Batch API job, when set. */
  jobMaxTokens: number | undefined;
  /** The most estimated tokens in this run's unfinished jobs, when set. */
  maxEnqueuedTokens: number | undefined;
  /** Milliseconds between polls of each job, when set (30 s; 1 s with --simulate). */
  pollIntervalMs: number | undefined;
  /** Milliseconds a job may stay unfinished before it is cancelled and resubmitted. */
  jobDeadlineMs: number;
  /** Cancel this output's unfinished Batch API jobs, then exit. */
  cancelJobs: boolean;
  /** The interactive price in US dollars per million tokens for the cost estimate, when set. */
  price: number | undefined;
}

/** The line printed under a usage error, instead of the whole help text. */
export const HELP_HINT = "run with --help for usage";

/** The usage text printed by `--help`. */
export const USAGE: string = `Usage: deno run --allow-net --allow-env main.ts [demo options]
       deno run --allow-net --allow-env --allow-read main.ts serve [options]  (serve --help)
       deno run --allow-net --allow-env --allow-read --allow-write main.ts --input FILE [options]

Batches texts into calls to the Gemini Embedding API. With --input it embeds
a corpus: one record per input line, in input order, to --output. Without it,
it runs a demo stream and prints each batch as it forms. GEMINI_API_KEY (or
GOOGLE_API_KEY) is the API key; the demo falls back to a local simulator of the
API without one, a corpus run needs a key or --simulate.

Corpus runs:
  --input PATH          the corpus, or - for stdin: one text per line, or JSON
                        Lines ({"id": ..., "text": ...}; id defaults to the
                        0-based line number). Blank lines are skipped
  --output PATH         where records go, or - for stdout        (default -)
                        {"id":..,"embedding":[..]} or {"id":..,"error":{..}}
  --format text|jsonl   how the input is read  (default: jsonl for .jsonl/.ndjson)
  --text-field NAME     the JSONL field holding the text          (default text)
  --title-field NAME    the JSONL field holding a document's title (default title);
                        used with --task-type RETRIEVAL_DOCUMENT
                        A JSONL line may carry "file": a path or a list of paths
                        (relative to the input file; PNG, JPEG, PDF, MP3, WAV,
                        MP4, MOV) and an optional text: one vector for all of it
                        (gemini-embedding-2 only)
  --resume              keep the records already in --output, repair a torn
                        last line, retry error records, embed the rest
  --overwrite           replace an existing --output file
  --task-type TYPE      RETRIEVAL_DOCUMENT, RETRIEVAL_QUERY, SEMANTIC_SIMILARITY,
                        CLASSIFICATION, CLUSTERING, QUESTION_ANSWERING,
                        FACT_VERIFICATION or CODE_RETRIEVAL_QUERY: the taskType
                        field for gemini-embedding-001, Google's instruction in
                        the text for gemini-embedding-2; without it texts are
                        sent exactly as given
  --no-normalize        write vectors exactly as the API returns them (default:
                        unit length; 001 below 3072 dimensions is not)
  --concurrency N       most API calls in flight at once, 1-64        (default 4)
  --max-attempts N      calls per batch, retries of 429/5xx/timeouts included,
                        1-100; 1 disables retries                   (default 6)
  --call-timeout DURATION
                        longest one API call may take before it is retried
                                                                  (default 60s)
  --max-outage DURATION after calls have succeeded, how long network errors
                        and timeouts are waited out before the run stops
                        (run again with --resume later)            (default 5m)
  --truncate            cut texts over the token limit instead of writing
                        TOKEN_LIMIT error records
  --max-input-tokens N  the most (estimated) tokens per text
                                         (default: the model's limit, 2048 or 8192)
  --grace DURATION      after Ctrl-C, how long in-flight calls may finish (default 5s)
  --progress-interval DURATION
                        progress line period when stderr is not a terminal
                                                                  (default 10s)
  --quiet               no progress and no summary on stderr
  --cache PATH          keep vectors in an SQLite file and embed only texts it
                        does not hold; "default" is $XDG_CACHE_HOME/embatch/
                        cache.sqlite (~/.cache/embatch/cache.sqlite)
  --cache-max-size SIZE bound the cache, evicting the least recently used
                        vectors, e.g. 500MB, 2GiB            (default no bound)
  --refresh-changed     with --resume and --cache: embed again the ids whose
                        text changed since their record was written

Batch API runs (--batch-api; half the price, results within 24 h, paid tier only):
  --batch-api           embed through Gemini's Batch API: texts are packed into
                        jobs, uploaded, polled and collected; needs --output FILE,
                        keeps a journal beside it (FILE.batch-journal.jsonl)
  --job-max-tokens N    estimated input tokens per job            (default 100000)
  --max-enqueued-tokens N
                        most tokens in this run's unfinished jobs; the next job
                        is created as earlier ones finish (tier 1: 500000)
                                                                 (default 500000)
  --poll-interval DURATION
                        between polls of each job, with ±20% jitter
                                              (default 30s; 1s with --simulate)
  --job-deadline DURATION
                        cancel and resubmit a job unfinished this long (default 24h)
  --cancel-jobs         cancel this output's unfinished jobs, then exit
  --price USD           interactive price per million tokens for the cost
                        estimate; batch is half  (default: the dated table)
  Ctrl-C detaches: jobs keep running at Google; --resume reattaches to them.

Demo runs:
  --inputs N            number of demo inputs input-0 … input-N-1   (default 100)
  --max-delay DURATION  longest random delay before each input      (default 300ms)
  --seed N              seed for the random delays (same seed, same arrivals)

Both:
  --batch-size N        most inputs per API call, 1-100   (default 100; demo 8)
  --timeout DURATION    longest a batch's first input waits         (default 1s)
                        e.g. 250ms, 1s, 1.5s, or "inf" for size-only batches
  --adaptive            size batches to the arrival rate and call latency;
                        --batch-size and --timeout become the upper bounds
  --rpm N               most API calls per minute (free tier: 100; default no
                        limit); --adaptive plans its batches within it
  --tpm N               most tokens per minute, estimated (free tier: 30000)
  --dimensions N        embedding dimensions, 1-3072
                                     (default: the model's, 3072; demo 3)
  --model NAME          embedding model: gemini-embedding-2 (default) or
                        gemini-embedding-001 (text only; see README)
  --base-url URL        Gemini API base URL (or set GOOGLE_GEMINI_BASE_URL)
  --simulate            use the local simulator even if an API key is set
  -h, --help            show this help

Simulator (with --simulate, or the demo without a key; latency default 0, demo 50ms):
${simulatorFlagsHelp("simulate-", "  ")}

Exit codes: 0 all embedded, 1 the run failed, 2 bad flags, files or key,
3 finished with error records (run again with --resume to retry them),
130 interrupted (Ctrl-C or SIGTERM; a second Ctrl-C exits at once).

Examples:
  deno run --allow-net --allow-env main.ts --batch-size 16 --timeout 500ms --seed 7
  GEMINI_API_KEY=... deno run --allow-net --allow-env --allow-read --allow-write \\
    main.ts --input corpus.jsonl --output vectors.jsonl --dimensions 768 --rpm 100
  ... the same with --resume after an interruption`;

/**
 * Parses and validates the command-line flags.
 *
 * @param args The arguments, without the program name (`Deno.args`).
 * @returns The validated settings, with defaults filled in.
 * @throws {UsageError} If a flag is unknown, lacks its value, or has an impossible value.
 *
 * @example Usage
 * ```ts
 * import { parseCliArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 *
 * const options = parseCliArgs(["--batch-size", "16", "--timeout", "250ms"]);
 * assert.equal(options.batchSize, 16);
 * assert.equal(options.timeoutMs, 250);
 * assert.equal(options.inputs, 100);
 * ```
 */
export function parseCliArgs(args: string[]): CliOptions {
  const values = readFlags(args);
  const input = values.input;
  const corpus = input !== undefined;
  if (input === "") throw new UsageError(`Invalid --input: expected a file path or -, received ""`);
  checkMode(values, corpus);
  const { output, resume, overwrite } = outputSettings(values);
  const optional = (flag: string, value: string | undefined, min: number, max: number) =>
    value === undefined ? undefined : integer(flag, value, 0, min, max);
  return {
    help: values.help ?? false,
    batchSize: integer("batch-size", values["batch-size"], corpus ? 100 : 8, 1, 100),
    timeoutMs: duration("timeout", values.timeout, 1000, true),
    inputs: integer("inputs", values.inputs, 100, 0, Number.MAX_SAFE_INTEGER),
    maxDelayMs: duration("max-delay", values["max-delay"], 300),
    seed: integer("seed", values.seed, Math.floor(Math.random() * 1_000_000), 0, 2 ** 31 - 1),
    dimensions: corpus
      ? optional("dimensions", values.dimensions, 1, 3072)
      : integer("dimensions", values.dimensions, 3, 1, 3072),
    baseUrl: url("base-url", values["base-url"]),
    simulate: values.simulate ?? false,
    adaptive: values.adaptive ?? false,
    simulator: simulatorSettings(values, corpus),
    input,
    output,
    ...contentSettings(values),
    concurrency: optional("concurrency", values.concurrency, 1, 64),
    rpm: optional("rpm", values.rpm, 1, Number.MAX_SAFE_INTEGER),
    tpm: optional("tpm", values.tpm, 1, Number.MAX_SAFE_INTEGER),
    maxAttempts: optional("max-attempts", values["max-attempts"], 1, 100),
    callTimeoutMs: values["call-timeout"] === undefined
      ? undefined
      : positiveDuration("call-timeout", values["call-timeout"], 60_000),
    maxOutageMs: values["max-outage"] === undefined
      ? undefined
      : duration("max-outage", values["max-outage"], 300_000, true),
    truncate: values.truncate ?? false,
    maxInputTokens: optional("max-input-tokens", values["max-input-tokens"], 1, 1_000_000),
    flagsGiven: new Set(
      Object.keys(values).filter((flag) => (values as Record<string, unknown>)[flag] !== undefined),
    ),
    resume,
    overwrite,
    quiet: values.quiet ?? false,
    graceMs: duration("grace", values.grace, 5000),
    progressIntervalMs: positiveDuration("progress-interval", values["progress-interval"], 10_000),
    ...cacheSettings(values, { resume, input }),
    ...batchSettings(values, output),
  };
}

/** The flags as `parseArgs` reads them; an unknown or malformed flag is a UsageError. */
function readFlags(args: string[]) {
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options: FLAGS }).values;
  } catch (error) {
    throw new UsageError(oneLine((error as Error).message));
  }
}

type FlagValues = ReturnType<typeof readFlags>;

/** Refuses demo flags in a corpus run and corpus flags in the demo. */
function checkMode(values: FlagValues, corpus: boolean): void {
  const given = (flags: readonly string[]) =>
    flags.filter((flag) => (values as Record<string, unknown>)[flag] !== undefined);
  const wrong = given(corpus ? DEMO_FLAGS : CORPUS_FLAGS);
  if (wrong.length === 0) return;
  throw new UsageError(
    corpus
      ? `--${wrong[0]} is a demo option and does not apply with --input`
      : `--${wrong[0]} needs --input: it applies to corpus runs`,
  );
}

/** `--output`, `--resume` and `--overwrite`, checked against each other. */
function outputSettings(values: FlagValues): Pick<CliOptions, "output" | "resume" | "overwrite"> {
  const output = values.output ?? "-";
  if (output === "") {
    throw new UsageError(`Invalid --output: expected a file path or -, received ""`);
  }
  const resume = values.resume ?? false;
  const overwrite = values.overwrite ?? false;
  if (resume && output === "-") {
    throw new UsageError("--resume needs --output FILE: it continues a file, not stdout");
  }
  if (resume && overwrite) {
    throw new UsageError("--resume and --overwrite contradict each other: pick one");
  }
  return { output, resume, overwrite };
}

/** What is embedded and how: model, input format and fields, task type, normalisation. */
function contentSettings(
  values: FlagValues,
): Pick<
  CliOptions,
  "model" | "format" | "textField" | "titleField" | "taskType" | "normalize"
> {
  const model = values.model ?? DEFAULT_MODEL;
  if (!/^[\w.-]+$/.test(model.replace(/^models\//, ""))) {
    throw new UsageError(
      `Invalid --model: expected a model name like gemini-embedding-001, received "${model}"`,
    );
  }
  const format = values.format;
  if (format !== undefined && format !== "text" && format !== "jsonl") {
    throw new UsageError(`Invalid --format: expected text or jsonl, received "${format}"`);
  }
  const field = (flag: "text-field" | "title-field", fallback: string) => {
    const name = values[flag] ?? fallback;
    if (name === "") throw new UsageError(`Invalid --${flag}: expected a field name, received ""`);
    return name;
  };
  const taskType = values["task-type"];
  if (taskType !== undefined && !TASK_TYPES.includes(taskType as GeminiTaskType)) {
    throw new UsageError(
      `Invalid --task-type: expected one of ${TASK_TYPES.join(", ")}, received "${taskType}"`,
    );
  }
  return {
    model,
    format,
    textField: field("text-field", "text"),
    titleField: field("title-field", "title"),
    taskType: taskType as GeminiTaskType | undefined,
    normalize: !(values["no-normalize"] ?? false),
  };
}

/** The Batch API flags, checked against each other and against the online-only flags. */
function batchSettings(
  values: Readonly<Record<string, string | boolean | undefined>>,
  output: string,
): Pick<
  CliOptions,
  | "batchApi"
  | "jobMaxTokens"
  | "maxEnqueuedTokens"
  | "pollIntervalMs"
  | "jobDeadlineMs"
  | "cancelJobs"
  | "price"
> {
  const batchApi = values["batch-api"] === true;
  const given = (flags: readonly string[]) => flags.filter((flag) => values[flag] !== undefined);
  if (!batchApi) {
    const batchOnly = given(BATCH_FLAGS);
    if (batchOnly.length > 0) {
      throw new UsageError(`--${batchOnly[0]} needs --batch-api: it applies to Batch API runs`);
    }
  } else {
    const uncached = given(CACHE_FLAGS);
    if (uncached.length > 0) {
      throw new UsageError(
        `--${
          uncached[0]
        } does not apply with --batch-api yet: Batch API runs neither read nor fill the cache`,
      );
    }
    const onlineOnly = given(ONLINE_FLAGS);
    if (onlineOnly.length > 0) {
      throw new UsageError(
        `--${
          onlineOnly[0]
        } does not apply with --batch-api: Batch API jobs have no per-call batches or per-minute limits`,
      );
    }
    if (output === "-") {
      throw new UsageError(
        "--batch-api needs --output FILE: its journal of jobs is kept beside the output",
      );
    }
  }
  const text = (flag: string) => values[flag] as string | undefined;
  const price = text("price");
  if (price !== undefined && !(Number(price) >= 0 && price.trim() !== "")) {
    throw new UsageError(`Invalid --price: expected US dollars like 0.15, received "${price}"`);
  }
  const optional = (flag: string) =>
    text(flag) === undefined ? undefined : integer(flag, text(flag), 0, 1, Number.MAX_SAFE_INTEGER);
  return {
    batchApi,
    jobMaxTokens: optional("job-max-tokens"),
    maxEnqueuedTokens: optional("max-enqueued-tokens"),
    pollIntervalMs: text("poll-interval") === undefined
      ? undefined
      : positiveDuration("poll-interval", text("poll-interval"), 30_000),
    jobDeadlineMs: positiveDuration("job-deadline", text("job-deadline"), 86_400_000),
    cancelJobs: values["cancel-jobs"] === true,
    price: price === undefined ? undefined : Number(price),
  };
}

function cacheSettings(
  values: { cache?: string; "cache-max-size"?: string; "refresh-changed"?: boolean },
  run: { resume: boolean; input: string | undefined },
): Pick<CliOptions, "cache" | "cacheMaxSize" | "refreshChanged"> {
  const cache = values.cache;
  if (cache === "") {
    throw new UsageError(`Invalid --cache: expected a file path or default, received ""`);
  }
  const maxSize = values["cache-max-size"];
  if (maxSize !== undefined && cache === undefined) {
    throw new UsageError("--cache-max-size needs --cache: it bounds the cache file");
  }
  const refreshChanged = values["refresh-changed"] ?? false;
  if (refreshChanged && (!run.resume || cache === undefined)) {
    throw new UsageError(
      "--refresh-changed needs --resume and --cache: it re-embeds changed texts of a resumed output",
    );
  }
  if (refreshChanged && run.input === "-") {
    throw new UsageError("--refresh-changed needs --input FILE: it reads the input twice");
  }
  return {
    cache,
    cacheMaxSize: maxSize === undefined ? undefined : cacheMaxSize(maxSize),
    refreshChanged,
  };
}

const FLAGS = {
  help: { type: "boolean", short: "h" },
  "batch-size": { type: "string" },
  timeout: { type: "string" },
  inputs: { type: "string" },
  "max-delay": { type: "string" },
  seed: { type: "string" },
  dimensions: { type: "string" },
  model: { type: "string" },
  "base-url": { type: "string" },
  simulate: { type: "boolean" },
  adaptive: { type: "boolean" },
  ...simulatorFlagOptions("simulate-"),
  input: { type: "string" },
  output: { type: "string" },
  format: { type: "string" },
  "text-field": { type: "string" },
  "title-field": { type: "string" },
  "no-normalize": { type: "boolean" },
  "task-type": { type: "string" },
  concurrency: { type: "string" },
  rpm: { type: "string" },
  tpm: { type: "string" },
  "max-attempts": { type: "string" },
  "call-timeout": { type: "string" },
  "max-outage": { type: "string" },
  truncate: { type: "boolean" },
  "max-input-tokens": { type: "string" },
  resume: { type: "boolean" },
  overwrite: { type: "boolean" },
  quiet: { type: "boolean" },
  grace: { type: "string" },
  "progress-interval": { type: "string" },
  cache: { type: "string" },
  "cache-max-size": { type: "string" },
  "refresh-changed": { type: "boolean" },
  "batch-api": { type: "boolean" },
  "job-max-tokens": { type: "string" },
  "max-enqueued-tokens": { type: "string" },
  "poll-interval": { type: "string" },
  "job-deadline": { type: "string" },
  "cancel-jobs": { type: "boolean" },
  price: { type: "string" },
} as const;

/** Flags that only a Batch API run reads. */
const BATCH_FLAGS = [
  "job-max-tokens",
  "max-enqueued-tokens",
  "poll-interval",
  "job-deadline",
  "cancel-jobs",
  "price",
] as const;
/** Flags of online runs that mean nothing to Batch API jobs. */
const ONLINE_FLAGS = [
  "batch-size",
  "timeout",
  "adaptive",
  "concurrency",
  "rpm",
  "tpm",
  "max-attempts",
  "grace",
] as const;

/** Flags that only the demo reads. */
/** The cache's flags: online corpus runs only, for now. */
const CACHE_FLAGS = ["cache", "cache-max-size", "refresh-changed"] as const;
const DEMO_FLAGS = ["inputs", "max-delay", "seed"] as const;
/** Flags that only a corpus run reads. */
const CORPUS_FLAGS = [
  "output",
  "format",
  "text-field",
  "title-field",
  "concurrency",
  "max-attempts",
  "call-timeout",
  "max-outage",
  "truncate",
  "max-input-tokens",
  "resume",
  "overwrite",
  "quiet",
  "grace",
  "progress-interval",
  "cache",
  "cache-max-size",
  "refresh-changed",
  "batch-api",
  ...BATCH_FLAGS,
] as const;

const TASK_TYPES: readonly GeminiTaskType[] = GEMINI_TASK_TYPES;

function simulatorSettings(
  values: Readonly<Record<string, unknown>>,
  corpus: boolean,
): SimulatorHandlerOptions {
  const given = Object.keys(SIMULATOR_FLAGS).find((name) =>
    values[`simulate-${name}`] !== undefined
  );
  if (corpus && given !== undefined && values.simulate !== true) {
    throw new UsageError(
      `--simulate-${given} needs --simulate: a corpus run uses the simulator only when asked`,
    );
  }
  try {
    return { latencyMs: corpus ? 0 : 50, ...simulatorOptionsFromFlags(values, "simulate-") };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A parseArgs message (some span three lines) as one line. */
function oneLine(message: string): string {
  const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const flag = ambiguous[1];
    return `${flag} needs a value: a value that starts with "-" is written ${flag}=VALUE`;
  }
  return message.replace(/\. To specify .*$/s, "").replace(/\s*\n\s*/g, " ");
}
