/**
 * Benchmark of a corpus run's peak memory, time and correctness at several
 * corpus sizes, and of a run killed half-way and resumed.
 *
 *   deno run --allow-run --allow-read --allow-write --allow-env bench/cli_memory.ts [sizes...]
 *     [--external] [--main PATH] [--no-resume] [--ids numbered|hashed]
 *
 * With --external the simulator runs in its own process (`simulator/cli.ts`),
 * and the corpus run calls it over loopback with `--base-url` and a dummy key,
 * as it would the API: the run's time and peak memory are then the CLI's
 * alone. --main runs another checkout's main.ts (to measure before and after
 * a change in one session; pass --model too when the two checkouts' default
 * models differ); --no-resume skips the kill-and-resume check; --no-verify
 * skips checking the vectors (for a checkout whose vectors this one's
 * simulatedEmbedding no longer matches, e.g. before client-side normalization);
 * --ids hashed names the lines with ids that end in no number (`u17-ubvebt`),
 * which the CLI's id set cannot keep as bits (default: numbered, `doc-17`).
 *
 * For each size (default 100000, 1000000 and 3000000) it writes a JSONL corpus to a
 * temporary directory, runs `main.ts --input corpus.jsonl --output out.jsonl
 * --simulate --dimensions 8 --quiet` as a subprocess, and reports the peak
 * resident memory (VmHWM from /proc, sampled every 50 ms, or `/usr/bin/time`'s
 * figure when present), the time and throughput, then checks the output:
 * exactly one record per id, each the simulator's vector for its own text.
 * For the first size it then reruns, kills the run with SIGKILL once about
 * half the output is written, resumes with --resume, and checks again.
 *
 * Peak RSS includes the in-process simulator and V8's lazily collected heap;
 * the live JS heap after a forced GC stays near 13 MB through a 1M-line run
 * (checked by sampling `Deno.memoryUsage()` after `gc()` in-process).
 * Everything is deleted at the end.
 */

import { parseArgs } from "node:util";
import { DIMENSIONS, peakFromProc, verify, writeCorpus } from "./_corpus.ts";

const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    external: { type: "boolean", default: false },
    main: { type: "string" },
    model: { type: "string" },
    "no-resume": { type: "boolean", default: false },
    "no-verify": { type: "boolean", default: false },
    ids: { type: "string", default: "numbered" },
  },
});
if (flags.ids !== "numbered" && flags.ids !== "hashed") {
  console.error(`bench:cli: --ids must be numbered or hashed, received ${flags.ids}`);
  Deno.exit(2);
}
const IDS = flags.ids;
const MAIN = flags.main ?? new URL("../main.ts", import.meta.url).pathname;
const SIMULATOR = new URL("../simulator/cli.ts", import.meta.url).pathname;
const sizes = positionals.length > 0 ? positionals.map(Number) : [100_000, 1_000_000, 3_000_000];

const HAVE_TIME = await Deno.stat("/usr/bin/time").then(() => true, () => false);

function command(args: string[], timed = HAVE_TIME) {
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
  const [program, ...rest] = timed
    ? ["/usr/bin/time", "-f", "maxrss_kb=%M cpu_s=%U+%S", ...deno]
    : deno;
  return new Deno.Command(program!, {
    args: rest,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    ...(flags.external && { env: { GEMINI_API_KEY: "bench-key" } }),
  });
}

/** Starts the simulator in its own process; resolves with its URL and a stop function. */
async function startExternalSimulator() {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-env", SIMULATOR, "--port", "0"],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let url: string | undefined;
  while (url === undefined) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the simulator exited before listening: ${seen}`);
    seen += value;
    url = /listening on (http:\/\/\S+)/.exec(seen)?.[1];
  }
  const draining = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await draining;
      await child.status;
    },
  };
}

async function run(args: string[]) {
  const started = performance.now();
  const child = command(args).spawn();
  const output = child.output();
  const sampled = await peakFromProc(child.pid, output);
  const { code, stderr } = await output;
  const seconds = (performance.now() - started) / 1000;
  const log = new TextDecoder().decode(stderr);
  const reported = Number(/maxrss_kb=(\d+)/.exec(log)?.[1] ?? 0);
  const cpu = /cpu_s=([\d.]+)\+([\d.]+)/.exec(log);
  const cpuSeconds = cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN;
  return { code, seconds, cpuSeconds, peakKb: Math.max(sampled, reported), log };
}

const dir = await Deno.makeTempDir({ prefix: "embatch-bench-" });
const simulator = flags.external ? await startExternalSimulator() : undefined;
try {
  console.log(
    `embatch corpus-run benchmark of ${MAIN}: ${
      simulator ? `simulator in its own process (${simulator.url})` : "--simulate (in process)"
    }, --dimensions ${DIMENSIONS}, default batch size (100), ${IDS} ids; ` +
      `peak memory ${HAVE_TIME ? "from /usr/bin/time (maxrss) and " : ""}VmHWM sampled from /proc`,
  );
  for (const [index, count] of sizes.entries()) {
    const corpus = `${dir}/corpus-${count}.jsonl`;
    const out = `${dir}/out-${count}.jsonl`;
    const bytes = await writeCorpus(corpus, count, IDS);
    const common = [
      "--input",
      corpus,
      "--output",
      out,
      ...(simulator ? ["--base-url", simulator.url] : ["--simulate"]),
      "--dimensions",
      `${DIMENSIONS}`,
      ...(flags.model ? ["--model", flags.model] : []),
    ];
    const full = await run([...common, "--quiet", "--overwrite"]);
    if (full.code !== 0) throw new Error(`run failed (${full.code}): ${full.log}`);
    const outBytes = (await Deno.stat(out)).size;
    console.log(
      `${count.toLocaleString("en-US").padStart(9)} lines (${(bytes / 1e6).toFixed(0)} MB in, ` +
        `${(outBytes / 1e6).toFixed(0)} MB out): peak RSS ${
          (full.peakKb / 1024).toFixed(0)
        } MiB, ` +
        `${full.seconds.toFixed(1)} s, ${
          Math.round(count / full.seconds).toLocaleString("en-US")
        } lines/s` + (Number.isNaN(full.cpuSeconds)
          ? ""
          : `; CLI process CPU ${full.cpuSeconds.toFixed(1)} s (user+sys), ${
            Math.round(count / full.cpuSeconds).toLocaleString("en-US")
          } lines per CPU-second`),
    );
    if (!flags["no-verify"]) {
      console.log(`  ${await verify(out, count)}`);
    }

    if (index === 0 && !flags["no-resume"]) {
      // Kill half-way, then resume.
      await Deno.remove(out);
      const child = command([...common, "--quiet"], false).spawn();
      while (true) {
        const size = await Deno.stat(out).then((s) =>
          s.size, () => 0);
        if (size >= outBytes / 2) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill("SIGKILL");
      await child.output();
      const kept = (await Deno.readTextFile(out)).split("\n").length - 1;
      const resumed = await run([...common, "--resume"]);
      if (resumed.code !== 0) throw new Error(`resume failed (${resumed.code}): ${resumed.log}`);
      const note = /resuming [^\n]*/.exec(resumed.log)?.[0] ?? "";
      console.log(
        `  killed with SIGKILL at ${kept.toLocaleString("en-US")} complete lines; ${note}; ` +
          `resume took ${resumed.seconds.toFixed(1)} s`,
      );
      console.log(`  after resume ${await verify(out, count)}`);
    }
    await Deno.remove(out);
    await Deno.remove(corpus);
  }
} finally {
  await simulator?.stop();
  await Deno.remove(dir, { recursive: true });
}
