/**
 * Runs the Gemini embeddings simulator as a standalone server:
 * `deno task simulator --port 8787 --latency 50`. Stops on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startSimulator } from "./simulator.ts";

const USAGE = `Usage: deno task simulator [options]

Serves a local Gemini embeddings API (batchEmbedContents) on 127.0.0.1.

Options:
  --port <number>    Port to listen on; 0 picks a free one (default: 0)
  --latency <ms>     Milliseconds to wait before each answer (default: 0)
  --api-key <key>    Accept only this key; repeat for more (default: any key)
  -h, --help         Show this help`;

/** Runs the CLI with `args`, resolving with the process exit code. */
async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: "0" },
        latency: { type: "string", default: "0" },
        "api-key": { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!/^\d+$/.test(values.port)) {
    return usageError(
      `Invalid --port: expected an integer from 0 to 65535, received ${values.port}`,
    );
  }
  const latencyMs = Number(values.latency);
  if (values.latency.trim() === "" || !Number.isFinite(latencyMs) || latencyMs < 0) {
    return usageError(
      `Invalid --latency: expected a non-negative number of milliseconds, received ${values.latency}`,
    );
  }
  const apiKeys = values["api-key"];

  let simulator;
  try {
    simulator = startSimulator({
      port: Number(values.port),
      latencyMs,
      ...(apiKeys !== undefined && { apiKeys }),
    });
  } catch (error) {
    if (error instanceof RangeError) return usageError(error.message);
    console.error(`Cannot start simulator: ${error instanceof Error ? error.message : error}`);
    return 1;
  }

  const key = apiKeys?.[0] ?? "anything";
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
  const { requests, texts } = simulator.stats;
  console.log(`Stopped after ${requests} requests, ${texts} texts embedded.`);
  return 0;
}

function usageError(message: string): number {
  console.error(`${message}\n\n${USAGE}`);
  return 2;
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
