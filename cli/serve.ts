/**
 * `main.ts serve`: runs the batching embedding server until SIGTERM/SIGINT.
 *
 * @module
 */

import { redactSecret } from "../errors.ts";
import { geminiUpstream, isLoopback, parseTokenList, startServer } from "../server/mod.ts";
import { startSimulator } from "../simulator/server.ts";
import { EXIT, type MainIO } from "./io.ts";
import { cacheModel, openCache } from "./_cache.ts";
import { CachedEmbedder } from "../cache/cached_embedder.ts";
import type { EmbeddingCache } from "../cache/embedding_cache.ts";
import type { UpstreamFactory } from "../server/upstream.ts";
import { UsageError } from "./usage_error.ts";
import { parseServeArgs, SERVE_USAGE, type ServeOptions, TOKENS_ENV } from "./serve_args.ts";

function usage(io: MainIO, message: string): number {
  io.stderr(`embatch serve: ${message}\nrun with --help for usage`);
  return EXIT.usage;
}

async function readTokens(options: ServeOptions, io: MainIO): Promise<string[]> {
  const tokens = parseTokenList(io.env(TOKENS_ENV) ?? "");
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(options.tokenFile);
    } catch (error) {
      throw new UsageError(
        `Cannot read --token-file: ${(error as Error).name}, received "${options.tokenFile}"`,
      );
    }
    tokens.push(...parseTokenList(text));
  }
  return tokens;
}

/**
 * Runs `main.ts serve`: parses `args`, starts the server (and the simulator
 * with `--simulate`), prints `listening on http://HOST:PORT` as the first
 * stdout line, and serves until `io.signal` aborts; then it stops accepting,
 * drains within `--grace` and resolves with 0.
 *
 * @param args The arguments after `serve`.
 * @param io Output streams, environment and the stop signal.
 * @returns The exit code: 0 after a drain, 2 on a usage error, 1 if the server could not start.
 *
 * @example Serving until stopped
 * ```ts
 * import { runServe } from "./serve.ts";
 * import assert from "node:assert/strict";
 *
 * const stop = new AbortController();
 * const out: string[] = [];
 * const io = {
 *   stdout: (line: string) => {
 *     out.push(line);
 *     stop.abort(); // stop as soon as it listens
 *   },
 *   stderr: () => {},
 *   env: () => undefined,
 *   signal: stop.signal,
 * };
 * assert.equal(await runServe(["--simulate", "--port", "0"], io), 0);
 * assert.match(out[0]!, /^listening on http:\/\/127\.0\.0\.1:\d+$/);
 * ```
 */
export async function runServe(args: string[], io: MainIO): Promise<number> {
  let options: ServeOptions;
  let tokens: string[];
  try {
    options = parseServeArgs(args);
    if (options.help) {
      io.stdout(SERVE_USAGE);
      return EXIT.ok;
    }
    tokens = await readTokens(options, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usage(io, error.message);
  }
  if (!isLoopback(options.host) && tokens.length === 0 && !options.insecureNoAuth) {
    return usage(
      io,
      `refusing to bind ${options.host} without client tokens: give --token-file or ${TOKENS_ENV}, or --insecure-no-auth`,
    );
  }
  const apiKey = io.env("GEMINI_API_KEY") ?? io.env("GOOGLE_API_KEY");
  if (apiKey === undefined && !options.simulate) {
    return usage(io, "no upstream key: set GEMINI_API_KEY, or use --simulate");
  }
  const cache = options.cache === undefined ? undefined : await openCache(options, io);
  if (typeof cache === "string") {
    return usage(io, cache.replace(/^embatch: /, ""));
  }
  const simulator = options.simulate ? startSimulator(options.simulator) : undefined;
  const upstreamKey = simulator ? "simulator" : apiKey!;
  let server;
  try {
    const gemini = geminiUpstream({
      apiKey: upstreamKey,
      normalize: options.normalize,
      ...(simulator
        ? { baseUrl: simulator.url }
        : options.baseUrl
        ? { baseUrl: options.baseUrl }
        : {}),
    });
    server = startServer({
      hostname: options.host,
      port: options.port,
      insecureNoAuth: options.insecureNoAuth,
      tokens,
      models: options.models,
      upstream: cache === undefined ? gemini : cachedUpstream(gemini, cache, options.normalize),
      batchSize: options.batchSize,
      timeout: options.timeoutMs,
      strategy: options.adaptive ? "adaptive" : "fixed",
      concurrency: options.concurrency,
      ...(options.rpm !== undefined && { rpm: options.rpm }),
      ...(options.tpm !== undefined && { tpm: options.tpm }),
      callTimeout: options.callTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      maxQueue: options.maxQueue,
      maxBodyBytes: options.maxBodyBytes,
      clientConcurrency: options.clientConcurrency,
      ...(options.clientRps !== undefined && { clientRps: options.clientRps }),
      onLog: (line) => io.stderr(redactSecret(line, apiKey)),
    });
  } catch (error) {
    await simulator?.close();
    cache?.close();
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr(`embatch serve: cannot start: ${redactSecret(message, apiKey)}`);
    return EXIT.failed;
  }
  io.stdout(`listening on ${server.url}`);
  io.stderr(
    `embatch serve: ${options.models.join(", ")}; batches of up to ${options.batchSize}, ` +
      `${options.adaptive ? "max wait" : "timeout"} ${options.timeoutMs} ms; ` +
      `upstream ${simulator ? `simulator at ${simulator.url}` : (options.baseUrl ?? "Gemini")}; ` +
      `${tokens.length > 0 ? `${tokens.length} client tokens` : "no client auth"}`,
  );
  if (io.signal !== undefined && !io.signal.aborted) {
    const stopped = io.signal;
    await new Promise<void>((resolve) =>
      stopped.addEventListener("abort", () => resolve(), { once: true })
    );
  }
  io.stderr(
    `embatch serve: stopping: draining ${server.pending} queued texts (grace ${options.graceMs} ms)`,
  );
  await server.shutdown(options.graceMs);
  await simulator?.close();
  const calls = /^embatch_upstream_calls_total (\d+)$/m.exec(server.metricsText())?.[1] ?? "0";
  io.stderr(`embatch serve: stopped after ${calls} upstream calls`);
  if (cache !== undefined) {
    const stats = cache.stats();
    cache.close();
    io.stderr(
      `embatch serve: cache ${cache.path}: ${stats.hits} hits, ${stats.misses} misses, ` +
        `${stats.entries} vectors`,
    );
  }
  return EXIT.ok;
}

/**
 * Wraps each group's embedder with the cache. The group (model, dimensions,
 * task type, title) and normalisation are the key context, as in corpus runs,
 * so a server and a corpus run with the same settings share entries.
 * Cached texts skip the upstream call but still wait in their batch.
 */
function cachedUpstream(
  upstream: UpstreamFactory,
  cache: EmbeddingCache,
  normalize: boolean,
): UpstreamFactory {
  return (group) =>
    new CachedEmbedder(upstream(group), cache, {
      model: cacheModel(group.model, normalize),
      ...(group.dimensions !== undefined && { dimensions: group.dimensions }),
      ...(group.taskType !== undefined && { taskType: group.taskType }),
      ...(group.title !== undefined && { title: group.title }),
    });
}
