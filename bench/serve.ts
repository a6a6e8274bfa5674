/**
 * The serving benchmark (`deno task bench:serve`): clients sending
 * single-text requests at a set rate to `main.ts serve` (a subprocess),
 * in front of the Gemini simulator with a realistic latency, once batching
 * and once as a pass-through (`--batch-size 1`); then a throughput run
 * against an instant upstream. Loopback only, bounded in time and count.
 *
 * Reported per mode: requests/s achieved, upstream calls per request, the
 * client-seen p50/p99 latency, and the added latency: a request's client-seen
 * latency minus the duration of the upstream call that carried its text
 * (timed around the simulator's handler, in a process of its own).
 *
 * Each mode is first warmed up at the same rate (a server runs for hours; its
 * first calls pay for compiling code and opening connections), and the
 * warm-up's requests and calls are left out of every figure.
 *
 * The clients write their requests over raw keep-alive HTTP/1.1 connections
 * (`--client raw`, the default): a batch answers ~50 requests at one instant,
 * and real clients take those answers in processes of their own, while here
 * one load-generator process takes them one after another; with `fetch`
 * (`--client fetch`) its own per-response cost, in that one process, becomes
 * part of the latency it measures.
 *
 * Flags: --rate N (1000), --duration DURATION (5s), --warm-up DURATION (1s), --clients N (50),
 * --timeout DURATION (the server's batch timeout, 50ms), --throughput-duration
 * DURATION (3s), --throughput-clients N (256), --client raw|fetch (raw).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration } from "../duration.ts";
import { closedLoop, ConnectionPool, postBytes } from "./_raw_http.ts";
import { GEMINI_LATENCY } from "../simulator/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "1000" },
    duration: { type: "string", default: "5s" },
    "warm-up": { type: "string", default: "1s" },
    clients: { type: "string", default: "50" },
    timeout: { type: "string", default: "50ms" },
    "throughput-duration": { type: "string", default: "3s" },
    "throughput-clients": { type: "string", default: "256" },
    client: { type: "string", default: "raw" },
  },
});
const RATE = Number(values.rate);
const DURATION_MS = parseDuration(values.duration);
const WARM_UP_MS = parseDuration(values["warm-up"]);
const CLIENTS = Number(values.clients);
const TIMEOUT_MS = parseDuration(values.timeout);
const THROUGHPUT_MS = parseDuration(values["throughput-duration"]);
const THROUGHPUT_CLIENTS = Number(values["throughput-clients"]);
const CLIENT = values.client;
if (CLIENT !== "raw" && CLIENT !== "fetch") {
  console.error(`bench:serve: --client must be raw or fetch, received ${CLIENT}`);
  Deno.exit(2);
}
const KEY = "bench-upstream-key";
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MODEL = "gemini-embedding-001";
const TRIVIAL = new URL("./_trivial_server.ts", import.meta.url).pathname;
const TIMED_UPSTREAM = new URL("./_timed_upstream.ts", import.meta.url).pathname;
const SIMULATOR_CLI = new URL("../simulator/cli.ts", import.meta.url).pathname;

/** The upstream call that carried a text: its duration and number. */
interface Call {
  ms: number;
  call: number;
}

/** The timed simulator as a subprocess; `calls()` fetches what it counted. */
async function startUpstream() {
  const child = await startProcess([TIMED_UPSTREAM]);
  return {
    url: child.url,
    async calls(): Promise<{ calls: number; totalMs: number; callMs: Map<string, Call> }> {
      const response = await fetch(`${child.url}/__calls`);
      const body: { calls: number; totalMs: number; callMs: [string, number, number][] } =
        await response.json();
      const callMs = new Map(body.callMs.map(([text, ms, call]) => [text, { ms, call }]));
      return { ...body, callMs };
    },
    close: () => child.stop(),
  };
}

/** `main.ts serve` as a subprocess; resolves once it prints its address. */
function startServe(upstreamUrl: string, flags: string[]) {
  return startProcess([
    MAIN,
    "serve",
    "--port",
    "0",
    "--base-url",
    upstreamUrl,
    "--client-concurrency",
    "100000",
    "--max-queue",
    "100000",
    ...flags,
  ]);
}

/** A Deno script as a subprocess that prints `listening on URL` first. */
async function startProcess(script: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-env", "--allow-read", ...script],
    env: { GEMINI_API_KEY: KEY, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error("Cannot start server: it exited before listening");
    text += value;
  }
  reader.releaseLock();
  void child.stdout.cancel().catch(() => {});
  const url = /listening on (\S+)/.exec(text)![1]!;
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/**
 * The server's own total time in upstream calls (from its /metrics), to set
 * against the upstream's time in its handler: the difference is the hop
 * between them (SDK, HTTP client, loopback, both event loops).
 */
async function serverCallSeconds(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  return {
    sum: value("embatch_upstream_call_seconds_sum"),
    count: value("embatch_upstream_call_seconds_count"),
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** One request as a client sends it: path, extra header lines and JSON body. */
interface Outgoing {
  path: string;
  headers: string[];
  body: string;
}

/** One text to `main.ts serve`, as an OpenAI client sends it. */
const toServer = (text: string): Outgoing => ({
  path: "/v1/embeddings",
  headers: [],
  body: JSON.stringify({ model: MODEL, input: text, dimensions: 8 }),
});

/** One text straight to the upstream, as a Gemini client without embatch sends it. */
const toUpstream = (text: string): Outgoing => ({
  path: `/v1beta/models/${MODEL}:batchEmbedContents`,
  headers: [`x-goog-api-key: ${KEY}`],
  body: JSON.stringify({
    requests: [{
      model: `models/${MODEL}`,
      content: { parts: [{ text }] },
      outputDimensionality: 8,
    }],
  }),
});

/** One client of the load: its own connections; `send` resolves with whether the answer was 200. */
interface LoadClient {
  send(text: string): Promise<boolean>;
  close(): void;
}

/** A client over raw keep-alive connections: request bytes out, response read by its length. */
function rawClient(url: string, build: (text: string) => Outgoing): LoadClient {
  const pool = new ConnectionPool(Number(new URL(url).port));
  return {
    async send(text) {
      const { path, headers, body } = build(text);
      return await pool.request(postBytes("127.0.0.1", path, body, headers)) === 200;
    },
    close: () => pool.close(),
  };
}

/** A client using `fetch` with a connection pool of its own. */
function fetchClient(url: string, build: (text: string) => Outgoing): LoadClient {
  const client = Deno.createHttpClient({});
  return {
    async send(text) {
      const { path, headers, body } = build(text);
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        client,
        headers: [["content-type", "application/json"], ...headers.map((h) => h.split(": ", 2))],
        body,
      });
      await response.arrayBuffer();
      return response.ok;
    },
    close: () => client.close(),
  };
}

const makeClient = CLIENT === "fetch" ? fetchClient : rawClient;

/** Open loop: request i leaves at i / rate, from client i mod N (each its own connections). */
async function openLoop(client: () => LoadClient, tag: string, durationMs: number) {
  const clients = Array.from({ length: CLIENTS }, client);
  const total = Math.round(RATE * durationMs / 1000);
  const latencies = new Map<string, number>();
  const inFlight: Promise<void>[] = [];
  let failed = 0;
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) * RATE / 1000) + 1);
    for (; sent < due; sent++) {
      const text = `${tag} request ${sent}`;
      const t0 = performance.now();
      inFlight.push(
        clients[sent % CLIENTS]!.send(text).then((ok) => {
          const ms = performance.now() - t0;
          if (!ok) return void failed++;
          latencies.set(text, ms);
        }, () => void failed++),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  for (const c of clients) c.close();
  return { total, failed, elapsed, latencies };
}

/**
 * Client-seen latencies, and each less the upstream call that carried its
 * text, sorted; and how many distinct calls carried the top 1 % by added latency.
 */
function addedLatencies(latencies: Map<string, number>, callMs: Map<string, Call>) {
  const all = [...latencies.values()].sort((a, b) => a - b);
  const byAdded = [...latencies].map(([text, ms]) => {
    const call = callMs.get(text);
    return { added: ms - (call?.ms ?? 0), call: call?.call };
  }).sort((a, b) => a.added - b.added);
  const top = byAdded.slice(Math.floor(byAdded.length * 0.99));
  const topCalls = new Set(top.map((t) => t.call)).size;
  return { all, added: byAdded.map((t) => t.added), topTexts: top.length, topCalls };
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const rows: string[][] = [];

const modes: [string, string[] | undefined][] = [
  ["batching", ["--batch-size", "100", "--timeout", `${TIMEOUT_MS}ms`, "--concurrency", "64"]],
  ["batching, --adaptive", [
    "--batch-size",
    "100",
    "--timeout",
    `${TIMEOUT_MS}ms`,
    "--concurrency",
    "64",
    "--adaptive",
  ]],
  ["server, --batch-size 1", ["--batch-size", "1", "--concurrency", "256"]],
  ["direct to upstream", undefined],
];
console.log(
  `load average before the run: ${
    Deno.loadavg().map((l) => l.toFixed(2)).join(", ")
  } (${navigator.hardwareConcurrency} CPUs)`,
);
console.log(
  `embatch bench:serve: ${RATE} single-text requests/s for ${
    DURATION_MS / 1000
  } s from ${CLIENTS} clients (${CLIENT === "raw" ? "raw keep-alive HTTP" : "fetch"}), after a ${
    WARM_UP_MS / 1000
  } s warm-up; ` +
    `upstream simulator latency ${GEMINI_LATENCY.baseMs} ms + ${GEMINI_LATENCY.perTextMs} ms/text + 0-${GEMINI_LATENCY.jitterMs} ms jitter; batch timeout ${TIMEOUT_MS} ms`,
);
const results: Record<
  string,
  { calls: number; callsPerRequest: number; addedP99: number; topTexts: number; topCalls: number }
> = {};
const hops: string[] = [];
for (const [mode, flags] of modes) {
  const upstream = await startUpstream();
  const server = flags === undefined ? undefined : await startServe(upstream.url, flags);
  try {
    const client = server === undefined
      ? () => makeClient(upstream.url, toUpstream)
      : () => makeClient(server.url, toServer);
    await openLoop(client, `warm-up ${mode}`, WARM_UP_MS);
    const before = await upstream.calls();
    const seenBefore = server && await serverCallSeconds(server.url);
    const run = await openLoop(client, mode, DURATION_MS);
    const after = await upstream.calls();
    const calls = after.calls - before.calls;
    if (server !== undefined) {
      const seen = await serverCallSeconds(server.url);
      const count = seen.count - seenBefore!.count;
      const hopMs = ((seen.sum - seenBefore!.sum) * 1000 - (after.totalMs - before.totalMs)) /
        count;
      hops.push(`${mode}: ${fmt(hopMs)} ms per call over ${count}`);
    }
    const callMs = after.callMs;
    const { all, added, topTexts, topCalls } = addedLatencies(run.latencies, callMs);
    const callsPerRequest = calls / run.total;
    results[mode] = { calls, callsPerRequest, addedP99: quantile(added, 0.99), topTexts, topCalls };
    rows.push([
      mode,
      fmt(all.length / run.elapsed, 0),
      String(run.failed),
      String(calls),
      fmt(callsPerRequest, 3),
      fmt(quantile(all, 0.5)),
      fmt(quantile(all, 0.99)),
      fmt(quantile(added, 0.5)),
      fmt(quantile(added, 0.99)),
    ]);
  } finally {
    await server?.stop();
    await upstream.close();
  }
}
const header = [
  "mode",
  "req/s",
  "failed",
  "upstream calls",
  "calls/request",
  "p50 ms",
  "p99 ms",
  "added p50 ms",
  "added p99 ms",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const row of [header, ...rows]) {
  console.log(row.map((c, i) => c.padStart(widths[i]!)).join("  "));
}

const batching = results.batching!;
const passThrough = results["direct to upstream"]!;
const reduction = passThrough.callsPerRequest / batching.callsPerRequest;
console.log(
  `upstream calls: ${fmt(reduction)}x fewer with batching (target >= 20x): ${
    reduction >= 20 ? "met" : "NOT met"
  }`,
);
console.log(
  `server-to-upstream hop, inside "added" (the server's call time less the upstream's handler time, mean): ${
    hops.join("; ")
  }`,
);
// Every text of a batch shares its wait, its call and any stall: the texts'
// p99 is a statistic of the batches, not of independent requests.
console.log(
  `the ${batching.topTexts} texts of batching's top 1 % by added latency came from ${batching.topCalls} of its ${batching.calls} upstream calls`,
);
const floor = results["direct to upstream"]!.addedP99;
console.log(
  `measurement floor: the direct path's own "added" p99 is ${
    fmt(floor)
  } ms (client and event-loop ` +
    `delay on this machine, no server involved); batching's added p99 beyond it: ${
      fmt(batching.addedP99 - floor)
    } ms`,
);
console.log(
  `added p99 with batching: ${fmt(batching.addedP99)} ms (target <= timeout + 10 = ${
    TIMEOUT_MS + 10
  } ms): ${batching.addedP99 <= TIMEOUT_MS + 10 ? "met" : "NOT met"}`,
);

/** Closed loop over raw keep-alive connections (fetch would cost more CPU than the server). */
async function throughput(url: string) {
  const port = Number(new URL(url).port);
  return await closedLoop(port, THROUGHPUT_CLIENTS, THROUGHPUT_MS, (c, i) =>
    postBytes(
      "127.0.0.1",
      "/v1/embeddings",
      JSON.stringify({ model: MODEL, input: `throughput ${c} ${i}`, dimensions: 8 }),
    ));
}

const ceiling = await startProcess([TRIVIAL]);
let ceilingRps: number;
try {
  const run = await throughput(ceiling.url);
  ceilingRps = run.ok / run.seconds;
} finally {
  await ceiling.stop();
}
// The instant upstream is the simulator in a process of its own: in the bench
// process its answers would wait behind the load generator, and inside the
// server (--simulate) its work would be charged to the server.
const instant = await startProcess([SIMULATOR_CLI, "--port", "0"]);
const fast = await startServe(instant.url, [
  "--batch-size",
  "100",
  "--timeout",
  `${TIMEOUT_MS}ms`,
  "--concurrency",
  "64",
]);
try {
  const run = await throughput(fast.url);
  const rps = run.ok / run.seconds;
  console.log(
    `throughput against an instant upstream, ${THROUGHPUT_CLIENTS} keep-alive connections for ${
      THROUGHPUT_MS / 1000
    } s: ${fmt(rps, 0)} requests/s (${run.ok} answered, ${run.failed} failed); ` +
      `same machine, same load, a Deno.serve handler that only parses and answers: ${
        fmt(ceilingRps, 0)
      } requests/s ` +
      `(target >= 10000): ${rps >= 10_000 ? "met" : "NOT met"}`,
  );
} finally {
  await fast.stop();
  await instant.stop();
}
