/**
 * Flags of `main.ts serve`: parsing, validation and the usage text.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { SimulatorHandlerOptions } from "../simulator/server.ts";
import {
  simulatorFlagOptions,
  simulatorFlagsHelp,
  simulatorOptionsFromFlags,
} from "../simulator/flags.ts";
import { UsageError } from "./usage_error.ts";
import { cacheMaxSize, integer, positiveDuration as duration } from "./_flags.ts";
import { DEFAULT_SERVED_MODELS } from "../server/mod.ts";

/** The settings of `main.ts serve` once parsed and validated. */
export interface ServeOptions {
  /** Show the help text and exit. */
  help: boolean;
  /** The address to bind. */
  host: string;
  /** The port; 0 picks a free one. */
  port: number;
  /** The models served. */
  models: string[];
  /** The Gemini API's base URL, when not Google's. */
  baseUrl: string | undefined;
  /** The most texts per upstream call. */
  batchSize: number;
  /** The longest a batch's first text waits, in milliseconds. */
  timeoutMs: number;
  /** Size batches to the arrival rate and call latency. */
  adaptive: boolean;
  /** The most upstream calls in flight per group. */
  concurrency: number;
  /** The most upstream calls per minute, when set. */
  rpm: number | undefined;
  /** The most upstream tokens per minute, when set. */
  tpm: number | undefined;
  /** How long one upstream call may take, in milliseconds. */
  callTimeoutMs: number;
  /** How long a request may wait for its vectors, in milliseconds. */
  requestTimeoutMs: number;
  /** Run against the in-process simulator instead of Gemini. */
  simulate: boolean;
  /** The simulator's settings from the `--simulate-*` flags. */
  simulator: SimulatorHandlerOptions;
  /** The file holding client tokens, one per line. */
  tokenFile: string | undefined;
  /** Allow a non-loopback bind without tokens. */
  insecureNoAuth: boolean;
  /** Scale every vector to unit length (`--no-normalize` turns it off). */
  normalize: boolean;
  /** How long requests in flight may finish after SIGTERM/SIGINT, in milliseconds. */
  graceMs: number;
  /** The most texts waiting, all clients together. */
  maxQueue: number;
  /** The largest request body, in bytes. */
  maxBodyBytes: number;
  /** The most requests in flight per client token. */
  clientConcurrency: number;
  /** The most requests per second per client token, when set. */
  clientRps: number | undefined;
  /** The embedding cache file as given (`default` for the user's cache directory), when set. */
  cache: string | undefined;
  /** The most bytes the cache's entries may take, when set. */
  cacheMaxSize: number | undefined;
}

/**
 * The environment variable holding client tokens (comma- or newline-separated).
 *
 * @example Usage
 * ```ts
 * import { TOKENS_ENV } from "./serve_args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(TOKENS_ENV, "EMBATCH_TOKENS");
 * ```
 */
export const TOKENS_ENV = "EMBATCH_TOKENS";

/**
 * The usage text of `main.ts serve --help`.
 *
 * @example Usage
 * ```ts
 * import { SERVE_USAGE } from "./serve_args.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(SERVE_USAGE, /--insecure-no-auth/);
 * ```
 */
export const SERVE_USAGE: string =
  `Usage: deno run --allow-net --allow-env --allow-read main.ts serve [options]

Serves one HTTP endpoint that batches the embedding requests of every client
into shared Gemini calls: Gemini REST (POST /{v1,v1beta}/models/{model}:embedContent
and :batchEmbedContents) and OpenAI-compatible POST /v1/embeddings, plus
GET /healthz and GET /metrics (Prometheus). The first line on stdout is
"listening on http://HOST:PORT". SIGTERM or Ctrl-C drains and exits 0.
GEMINI_API_KEY (or GOOGLE_API_KEY) is the upstream key; it never leaves the server.

Listening and clients:
  --host HOST             address to bind                        (default 127.0.0.1)
  --port N                port, 0 for a free one                          (default 0)
  --token-file PATH       client tokens, one per line (# comments); also read from
                          ${TOKENS_ENV} (comma-separated). Clients send one as
                          x-goog-api-key, ?key= or Authorization: Bearer
  --insecure-no-auth      allow a non-loopback --host without tokens
  --client-concurrency N  most requests in flight per token             (default 1024)
  --client-rps N          most requests per second per token      (default no limit)
  --max-queue N           most texts waiting, all clients; then 503    (default 10000)
  --max-body BYTES        largest request body; then 413             (default 4194304)
  --request-timeout DURATION  longest a request waits for its vectors   (default 60s)
  --grace DURATION        after SIGTERM/Ctrl-C, how long requests may finish (default 10s)

Upstream:
  --model NAME            model served; repeat for several
                          (default gemini-embedding-2 and gemini-embedding-001)
  --base-url URL          Gemini API base URL
  --batch-size N          most texts per upstream call, 1-100           (default 100)
  --timeout DURATION      longest a batch's first text waits            (default 50ms)
  --adaptive              size batches to the arrival rate and call latency;
                          --batch-size and --timeout become the upper bounds
  --concurrency N         upstream calls in flight per (model, dimensions, task
                          type, title), 1-256                           (default 16)
  --rpm N                 most upstream calls per minute      (default no limit)
  --tpm N                 most upstream tokens per minute, estimated
  --call-timeout DURATION longest one upstream call may take            (default 60s)
  --no-normalize          answer vectors exactly as the API returns them (default:
                          unit length, as corpus runs write them)
  --cache PATH            answer texts already embedded from an SQLite cache file
                          and keep new vectors in it ("default": the user's cache
                          directory; needs --allow-write)
  --cache-max-size SIZE   bound the cache, e.g. 500MB, 2GiB       (default no bound)
  --simulate              use the in-process simulator instead of Gemini
  -h, --help              show this help

Simulator (with --simulate):
${simulatorFlagsHelp("simulate-", "  ")}

Example:
  deno run --allow-net --allow-env --allow-read main.ts serve --simulate --port 8080`;

const FLAGS = {
  help: { type: "boolean", short: "h" },
  host: { type: "string" },
  port: { type: "string" },
  model: { type: "string", multiple: true },
  "base-url": { type: "string" },
  "batch-size": { type: "string" },
  timeout: { type: "string" },
  adaptive: { type: "boolean" },
  concurrency: { type: "string" },
  rpm: { type: "string" },
  tpm: { type: "string" },
  "call-timeout": { type: "string" },
  "request-timeout": { type: "string" },
  simulate: { type: "boolean" },
  ...simulatorFlagOptions("simulate-"),
  "token-file": { type: "string" },
  "insecure-no-auth": { type: "boolean" },
  "no-normalize": { type: "boolean" },
  grace: { type: "string" },
  "max-queue": { type: "string" },
  "max-body": { type: "string" },
  "client-concurrency": { type: "string" },
  "client-rps": { type: "string" },
  cache: { type: "string" },
  "cache-max-size": { type: "string" },
} as const;

/**
 * Parses and validates the flags of `main.ts serve`.
 *
 * @param args The arguments after `serve`.
 * @returns The validated settings, defaults filled in.
 * @throws {UsageError} If a flag is unknown, lacks its value, or has an impossible value.
 *
 * @example Usage
 * ```ts
 * import { parseServeArgs } from "./serve_args.ts";
 * import assert from "node:assert/strict";
 *
 * const options = parseServeArgs(["--port", "0", "--simulate", "--timeout", "20ms"]);
 * assert.equal(options.host, "127.0.0.1");
 * assert.equal(options.timeoutMs, 20);
 * assert.deepEqual(options.models, ["gemini-embedding-2", "gemini-embedding-001"]);
 * ```
 */
export function parseServeArgs(args: string[]): ServeOptions {
  let values;
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options: FLAGS }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
  const models = (values.model ?? [...DEFAULT_SERVED_MODELS]).map((m) =>
    m.replace(/^models\//, "")
  );
  for (const model of models) {
    if (!/^[\w.-]+$/.test(model)) {
      throw new UsageError(
        `Invalid --model: expected a model name like gemini-embedding-001, received "${model}"`,
      );
    }
  }
  const baseUrl = values["base-url"];
  if (baseUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(baseUrl)) {
    throw new UsageError(`Invalid --base-url: expected an http(s) URL, received "${baseUrl}"`);
  }
  const host = values.host ?? "127.0.0.1";
  if (host === "") throw new UsageError(`Invalid --host: expected an address, received ""`);
  const simulate = values.simulate ?? false;
  let simulator: SimulatorHandlerOptions;
  try {
    simulator = simulatorOptionsFromFlags(values, "simulate-");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!simulate && Object.keys(values).some((name) => name.startsWith("simulate-"))) {
    throw new UsageError("--simulate-* flags need --simulate");
  }
  const optional = (flag: string, value: string | undefined) =>
    value === undefined ? undefined : integer(flag, value, 0, 1, Number.MAX_SAFE_INTEGER);
  return {
    help: values.help ?? false,
    host,
    port: integer("port", values.port, 0, 0, 65535),
    models,
    baseUrl: baseUrl?.replace(/\/+$/, ""),
    batchSize: integer("batch-size", values["batch-size"], 100, 1, 100),
    timeoutMs: duration("timeout", values.timeout, 50),
    adaptive: values.adaptive ?? false,
    concurrency: integer("concurrency", values.concurrency, 16, 1, 256),
    rpm: optional("rpm", values.rpm),
    tpm: optional("tpm", values.tpm),
    callTimeoutMs: duration("call-timeout", values["call-timeout"], 60_000),
    requestTimeoutMs: duration("request-timeout", values["request-timeout"], 60_000),
    simulate,
    simulator,
    tokenFile: values["token-file"],
    insecureNoAuth: values["insecure-no-auth"] ?? false,
    normalize: !(values["no-normalize"] ?? false),
    graceMs: duration("grace", values.grace, 10_000),
    maxQueue: integer("max-queue", values["max-queue"], 10_000, 1, Number.MAX_SAFE_INTEGER),
    maxBodyBytes: integer("max-body", values["max-body"], 4 * 1024 * 1024, 1024, 2 ** 31),
    clientConcurrency: integer(
      "client-concurrency",
      values["client-concurrency"],
      1024,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    clientRps: optional("client-rps", values["client-rps"]),
    ...cacheSettings(values.cache, values["cache-max-size"]),
  };
}

function cacheSettings(
  cache: string | undefined,
  maxSize: string | undefined,
): Pick<ServeOptions, "cache" | "cacheMaxSize"> {
  if (cache === "") {
    throw new UsageError(`Invalid --cache: expected a file path or default, received ""`);
  }
  if (maxSize !== undefined && cache === undefined) {
    throw new UsageError("--cache-max-size needs --cache: it bounds the cache file");
  }
  return { cache, cacheMaxSize: maxSize === undefined ? undefined : cacheMaxSize(maxSize) };
}
