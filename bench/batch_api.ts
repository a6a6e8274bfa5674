/**
 * Benchmark of `--batch-api` corpus runs, offline on the simulator.
 *
 *   deno task bench:batch [sizes...]
 *
 * 1. Memory. For each size (default 100000 and 1000000) it writes a JSONL
 *    corpus and runs `main.ts --input … --output … --batch-api --simulate
 *    --dimensions 8` with the default job size (100,000 estimated tokens) and
 *    enqueued cap (500,000), the simulator's jobs pending 200 ms and running
 *    300 ms, polled every 200 ms. It reports the peak resident memory (VmHWM
 *    sampled from /proc, or /usr/bin/time's maxrss when present), the time,
 *    the jobs, and checks the output: one record per id, each the simulator's
 *    vector for its own text. Memory is bounded by what unfinished jobs hold
 *    (the cap), not by the corpus.
 * 2. The acceptance run: 100,000 lines through a simulator started
 *    here (so that its jobs outlive the CLI) with jobs of a few seconds (2 s
 *    pending, 2 s running), 1% error lines and job 3 failing, in jobs of
 *    20,000 estimated tokens. The CLI is killed with SIGKILL while jobs are
 *    pending, then run again with `--resume`; the output is checked and the
 *    simulator's counters show whether any job was created twice for the same
 *    inputs and whether any text was embedded (paid for) twice.
 * 3. The same 100,000 lines and faults with `--simulate` (the in-process
 *    simulator), end to end without a kill.
 *
 * Everything is deleted at the end.
 */

import { startSimulator } from "../simulator/server.ts";
import { DIMENSIONS, peakFromProc, verify, writeCorpus } from "./_corpus.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [100_000, 1_000_000];
const HAVE_TIME = await Deno.stat("/usr/bin/time").then(() => true, () => false);
const n = (value: number) => value.toLocaleString("en-US");

function command(args: string[], env: Record<string, string> = {}, timed = HAVE_TIME) {
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-net=127.0.0.1",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    MAIN,
    ...args,
  ];
  const [program, ...rest] = timed ? ["/usr/bin/time", "-f", "maxrss_kb=%M", ...deno] : deno;
  return new Deno.Command(program!, {
    args: rest,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
}

async function run(args: string[], env: Record<string, string> = {}) {
  const started = performance.now();
  const child = command(args, env).spawn();
  const output = child.output();
  const sampled = await peakFromProc(child.pid, output);
  const { code, stderr } = await output;
  const log = new TextDecoder().decode(stderr);
  const reported = Number(/maxrss_kb=(\d+)/.exec(log)?.[1] ?? 0);
  return {
    code,
    seconds: (performance.now() - started) / 1000,
    peakKb: Math.max(sampled, reported),
    log,
  };
}

function summaryLine(log: string, pattern: RegExp): string {
  return log.split("\n").find((line) => pattern.test(line))?.trim() ?? "(not reported)";
}

async function memoryRuns(dir: string): Promise<void> {
  console.log(
    `1. --batch-api --simulate --dimensions ${DIMENSIONS}, default --job-max-tokens (100000) and ` +
      `--max-enqueued-tokens (500000); peak memory ${HAVE_TIME ? "from /usr/bin/time and " : ""}` +
      "VmHWM sampled from /proc",
  );
  for (const count of sizes) {
    const corpus = `${dir}/corpus-${count}.jsonl`;
    const out = `${dir}/out-${count}.jsonl`;
    const bytes = await writeCorpus(corpus, count);
    const result = await run([
      "--input",
      corpus,
      "--output",
      out,
      "--batch-api",
      "--simulate",
      "--simulate-batch-pending",
      "200ms",
      "--simulate-batch-running",
      "300ms",
      "--poll-interval",
      "200ms",
      "--progress-interval",
      "1h",
      "--dimensions",
      `${DIMENSIONS}`,
    ]);
    if (result.code !== 0) throw new Error(`run failed (${result.code}): ${result.log}`);
    console.log(
      `${n(count).padStart(9)} lines (${(bytes / 1e6).toFixed(0)} MB in): peak RSS ` +
        `${(result.peakKb / 1024).toFixed(0)} MiB, ${result.seconds.toFixed(1)} s`,
    );
    console.log(`  ${summaryLine(result.log, /^\s*jobs:/)}`);
    console.log(`  ${summaryLine(result.log, /^\s*tokens:/)}`);
    console.log(`  ${await verify(out, count)}`);
    await Deno.remove(out);
    await Deno.remove(corpus);
  }
}

async function killAndResume(dir: string): Promise<void> {
  const count = 100_000;
  console.log(
    `2. ${
      n(count)
    } lines, jobs of --job-max-tokens 20000 on a simulator with jobs of 2 s pending + ` +
      "2 s running, 1% error lines, job 3 failing; SIGKILL while jobs are pending, then --resume",
  );
  await using simulator = startSimulator({
    batch: { pendingMs: 2000, runningMs: 2000, errorLineRate: 0.01, failJobs: [3], seed: 7 },
  });
  const corpus = `${dir}/corpus-acceptance.jsonl`;
  const out = `${dir}/out-acceptance.jsonl`;
  await writeCorpus(corpus, count);
  const args = [
    "--input",
    corpus,
    "--output",
    out,
    "--batch-api",
    "--base-url",
    simulator.url,
    "--job-max-tokens",
    "20000",
    "--max-enqueued-tokens",
    "200000",
    "--poll-interval",
    "500ms",
    "--progress-interval",
    "250ms",
    "--dimensions",
    `${DIMENSIONS}`,
  ];
  const env = { GEMINI_API_KEY: "bench-key" };
  const started = performance.now();
  const child = command(args, env, false).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  // Kill once some jobs are written and others are pending.
  while (!/jobs [^|]*pending[^|]*\(([5-9]|\d\d+) done\)/.test(log)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the run ended before it could be killed: ${log}`);
    log += value;
  }
  const lastLine = log.trim().split("\n").at(-1)!;
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  const createdBefore = simulator.batch.stats.jobsCreated;
  const kept = (await Deno.readTextFile(out)).split("\n").length - 1;
  console.log(`  killed with SIGKILL at: ${lastLine}`);
  console.log(
    `  ${n(kept)} records written, ${n(createdBefore)} jobs created before the kill`,
  );
  const resumed = await run([...args, "--resume"], env);
  if (resumed.code !== 0) throw new Error(`resume failed (${resumed.code}): ${resumed.log}`);
  const seconds = (performance.now() - started) / 1000;
  console.log(`  resumed: ${summaryLine(resumed.log, /^\s*jobs:/)}`);
  console.log(`  ${summaryLine(resumed.log, /^\s*tokens:/)}`);
  console.log(`  whole run ${seconds.toFixed(1)} s; after resume ${await verify(out, count)}`);
  const stats = simulator.batch.stats;
  console.log(
    `  simulator: ${
      n(stats.jobsCreated)
    } jobs created, ${stats.duplicateJobs} created twice for the ` +
      `same inputs; ${n(stats.linesEmbedded)} lines embedded for ${n(count)} inputs ` +
      `(${stats.linesEmbedded === count ? "none twice" : "SOME TWICE"}), ${
        n(stats.errorLines)
      } error lines; ` +
      `${n(stats.filesUploaded)} files uploaded, ${n(stats.filesDeleted)} deleted; ` +
      `peak enqueued ${n(stats.peakEnqueuedTokens)} tokens`,
  );
  if (stats.duplicateJobs !== 0 || stats.linesEmbedded !== count) {
    throw new Error("a job was created twice or a text embedded twice");
  }
}

async function simulatedWithFaults(dir: string): Promise<void> {
  const count = 100_000;
  console.log(
    `3. ${n(count)} lines with --simulate: jobs of 2 s + 2 s, 1% error lines, job 3 failing, ` +
      "--job-max-tokens 20000",
  );
  const corpus = `${dir}/corpus-simulate.jsonl`;
  const out = `${dir}/out-simulate.jsonl`;
  await writeCorpus(corpus, count);
  const result = await run([
    "--input",
    corpus,
    "--output",
    out,
    "--batch-api",
    "--simulate",
    "--simulate-batch-pending",
    "2s",
    "--simulate-batch-running",
    "2s",
    "--simulate-batch-error-lines",
    "0.01",
    "--simulate-batch-fail-jobs",
    "3",
    "--job-max-tokens",
    "20000",
    "--max-enqueued-tokens",
    "200000",
    "--poll-interval",
    "500ms",
    "--progress-interval",
    "1h",
    "--dimensions",
    `${DIMENSIONS}`,
  ]);
  if (result.code !== 0) throw new Error(`run failed (${result.code}): ${result.log}`);
  console.log(
    `  ${result.seconds.toFixed(1)} s, peak RSS ${(result.peakKb / 1024).toFixed(0)} MiB`,
  );
  console.log(`  ${summaryLine(result.log, /^\s*jobs:/)}`);
  console.log(`  ${await verify(out, count)}`);
}

const dir = await Deno.makeTempDir({ prefix: "embatch-batch-bench-" });
try {
  await memoryRuns(dir);
  await killAndResume(dir);
  await simulatedWithFaults(dir);
} finally {
  await Deno.remove(dir, { recursive: true });
}
