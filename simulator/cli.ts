/**
 * Runs the Gemini embeddings simulator as a standalone server:
 * `deno task simulator --port 8787 --free-tier --error-503 0.05`. Stops on
 * Ctrl-C, printing its counters.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type BatchSimulatorStats, type SimulatorStats, startSimulator } from "./server.ts";
import { simulatorFlagOptions, simulatorFlagsHelp, simulatorOptionsFromFlags } from "./flags.ts";

const USAGE = `Usage: deno task simulator [options]

Serves a local Gemini embeddings API (batchEmbedContents, and the Batch API:
files, asyncBatchEmbedContent, batches) on 127.0.0.1.
P is a probability from 0 to 1; DURATION is milliseconds or e.g. 250ms, 2s.

Options:
  --port N                     port to listen on; 0 picks a free one (default 0)
  --api-key KEY                accept only this key; repeat for more (default any key)
${simulatorFlagsHelp()}
  -h, --help                   show this help`;

/** Runs the CLI with `args`, resolving with the process exit code. */
async function run(args: string[]): Promise<number> {
  let values;
  let options;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: "0" },
        "api-key": { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
        ...simulatorFlagOptions(),
      },
      strict: true,
      allowPositionals: false,
    }));
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    options = simulatorOptionsFromFlags(values);
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  const port = String(values.port);
  if (!/^\d+$/.test(port)) {
    return usageError(`Invalid --port: expected an integer from 0 to 65535, received "${port}"`);
  }
  const apiKeys = values["api-key"] as string[] | undefined;

  let simulator;
  try {
    simulator = startSimulator({
      ...options,
      port: Number(port),
      ...(apiKeys !== undefined && { apiKeys }),
    });
  } catch (error) {
    if (error instanceof RangeError) return usageError(error.message);
    console.error(`Cannot start simulator: ${error instanceof Error ? error.message : error}`);
    return 1;
  }

  const key = apiKeys === undefined ? "anything" : "<one of the --api-key values>";
  console.log(`Gemini embeddings simulator listening on ${simulator.url}`);
  console.log("Point the SDK (or embatch) at it with:");
  console.log(`  GOOGLE_GEMINI_BASE_URL=${simulator.url} GEMINI_API_KEY=${key}`);
  console.log("Press Ctrl-C to stop.");

  await new Promise<void>((resolve) => {
    const onInterrupt = () => {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      resolve();
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
  });
  await simulator.close();
  console.log(describeStats(simulator.stats));
  const batch = simulator.batch.stats;
  if (batch.filesUploaded > 0 || batch.jobsCreated > 0) console.log(describeBatchStats(batch));
  return 0;
}

/** The one-line summary printed on exit. */
function describeStats(stats: Readonly<SimulatorStats>): string {
  const faults = Object.entries(stats.faults)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  const statuses = Object.entries(stats.byStatus).map(([status, n]) => `${status}: ${n}`).join(
    ", ",
  );
  return `Stopped after ${stats.requests} requests, ${stats.texts} texts embedded, ` +
    `${stats.tokens} tokens; answers {${statuses}}; ${stats.rateLimited} rate-limited (429); ` +
    `faults: ${faults || "none"}; peak per key: ${stats.peakRequestsPerMinute} requests/min, ` +
    `${stats.peakTokensPerMinute} tokens/min.`;
}

/** The Batch API's line of the exit summary. */
function describeBatchStats(stats: Readonly<BatchSimulatorStats>): string {
  return `Batch API: ${stats.jobsCreated} jobs created, ${stats.duplicateJobs} created twice for the same inputs, ` +
    `${stats.createsRefused} creates refused at the enqueued-token cap, ${stats.jobsCancelled} cancelled; ` +
    `${stats.linesEmbedded} lines embedded, ${stats.errorLines} error lines; ` +
    `${stats.filesUploaded} files uploaded, ${stats.filesDeleted} deleted; ` +
    `peak enqueued ${stats.peakEnqueuedTokens} tokens.`;
}

function usageError(message: string): number {
  console.error(`${message}\nrun with --help for usage`);
  return 2;
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
