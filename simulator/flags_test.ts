import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import {
  SIMULATOR_FLAGS,
  simulatorFlagOptions,
  simulatorFlagsHelp,
  simulatorOptionsFromFlags,
} from "./flags.ts";
import { createSimulatorHandler, GEMINI_LATENCY } from "./server.ts";

function parse(args: string[], prefix = "simulate-") {
  const { values } = parseArgs({ args, options: simulatorFlagOptions(prefix), strict: true });
  return simulatorOptionsFromFlags(values, prefix);
}

Deno.test("simulatorOptionsFromFlags turns every flag into its option", () => {
  const options = parse([
    "--simulate-rpm=100",
    "--simulate-tpm=30000",
    "--simulate-max-input-tokens=512",
    "--simulate-latency=0.2s",
    "--simulate-latency-per-text=3",
    "--simulate-latency-jitter=50ms",
    "--simulate-error-500=0.01",
    "--simulate-error-503=0.02",
    "--simulate-hang=0.03",
    "--simulate-drop=0.04",
    "--simulate-wrong-count=0.05",
    "--simulate-latency-spike=0.1:2s",
    "--simulate-seed=-7",
  ]);
  assert.deepEqual(options, {
    rpm: 100,
    tpm: 30000,
    maxInputTokens: 512,
    latency: { baseMs: 200, perTextMs: 3, jitterMs: 50 },
    faults: {
      error500: 0.01,
      error503: 0.02,
      hang: 0.03,
      drop: 0.04,
      wrongCount: 0.05,
      latencySpike: { probability: 0.1, ms: 2000 },
    },
    seed: -7,
  });
  assert.doesNotThrow(() => createSimulatorHandler(options));
  assert.deepEqual(parse([]), {});
});

Deno.test("--free-tier sets Gemini's free-tier quotas and latency; explicit flags win", () => {
  assert.deepEqual(parse(["--free-tier"], ""), {
    rpm: 100,
    tpm: 30000,
    latency: { ...GEMINI_LATENCY },
  });
  assert.deepEqual(parse(["--free-tier", "--rpm", "5", "--latency", "0"], ""), {
    rpm: 5,
    tpm: 30000,
    latency: { baseMs: 0, perTextMs: 2, jitterMs: 100 },
  });
});

Deno.test("simulatorOptionsFromFlags names the flag and the value it rejects", () => {
  const cases: [string[], string][] = [
    [
      ["--simulate-rpm", "0"],
      'Invalid --simulate-rpm: expected a whole number of at least 1, received "0"',
    ],
    [
      ["--simulate-tpm", "1.5"],
      'Invalid --simulate-tpm: expected a whole number of at least 1, received "1.5"',
    ],
    [
      ["--simulate-max-input-tokens", "x"],
      'Invalid --simulate-max-input-tokens: expected a whole number of at least 1, received "x"',
    ],
    [
      ["--simulate-latency", "soon"],
      'Invalid --simulate-latency: expected a finite duration like "250ms" or "2s", received "soon"',
    ],
    [
      ["--simulate-latency-jitter", "inf"],
      'Invalid --simulate-latency-jitter: expected a finite duration like "250ms" or "2s", received "inf"',
    ],
    [
      ["--simulate-error-503", "2"],
      'Invalid --simulate-error-503: expected a probability from 0 to 1, received "2"',
    ],
    [
      ["--simulate-drop", ""],
      'Invalid --simulate-drop: expected a probability from 0 to 1, received ""',
    ],
    [
      ["--simulate-latency-spike", "0.1"],
      'Invalid --simulate-latency-spike: expected a probability and a duration like "0.05:2s", received "0.1"',
    ],
    [
      ["--simulate-latency-spike", "x:2s"],
      'Invalid --simulate-latency-spike: expected a probability from 0 to 1, received "x"',
    ],
    [
      ["--simulate-seed", "1e3"],
      'Invalid --simulate-seed: expected a whole number of at least -2147483648, received "1e3"',
    ],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parse(args), { name: "RangeError", message }, args.join(" "));
  }
  assert.throws(() => parse(["--simulate-error-500", "0.6", "--simulate-hang", "0.6"]), {
    name: "RangeError",
    message:
      /^Invalid fault flags: .*--simulate-error-500.* must add up to at most 1, received 1\.2$/,
  });
  assert.throws(() => simulatorOptionsFromFlags({ rpm: true }), {
    name: "TypeError",
    message: "Invalid --rpm: expected a string value, received true",
  });
  assert.throws(() => simulatorOptionsFromFlags({ "free-tier": "yes" }), TypeError);
});

Deno.test("simulatorFlagOptions and simulatorFlagsHelp cover every flag, prefixed", () => {
  const names = Object.keys(SIMULATOR_FLAGS);
  assert.deepEqual(
    Object.keys(simulatorFlagOptions("simulate-")),
    names.map((n) => `simulate-${n}`),
  );
  const help = simulatorFlagsHelp("simulate-").split("\n");
  assert.equal(help.length, names.length);
  help.forEach((line, i) => assert.ok(line.startsWith(`  --simulate-${names[i]}`), line));
  // Aligned: every help text starts in the same column.
  const column = new Set(help.map((line, i) => line.indexOf(SIMULATOR_FLAGS[names[i]!]!.help)));
  assert.equal(column.size, 1);
});

Deno.test("simulatorOptionsFromFlags turns the Batch API flags into batch options", () => {
  const options = parse([
    "--simulate-batch-pending=1s",
    "--simulate-batch-running=250ms",
    "--simulate-batch-error-lines=0.01",
    "--simulate-batch-fail-jobs=3,7",
    "--simulate-batch-expire-jobs=2",
    "--simulate-batch-max-enqueued=500000",
    "--simulate-seed=4",
  ]);
  assert.deepEqual(options, {
    seed: 4,
    batch: {
      pendingMs: 1000,
      runningMs: 250,
      errorLineRate: 0.01,
      failJobs: [3, 7],
      expireJobs: [2],
      maxEnqueuedTokens: 500000,
      seed: 4,
    },
  });
  assert.doesNotThrow(() => createSimulatorHandler(options));
  assert.throws(
    () => parse(["--simulate-batch-fail-jobs=0,x"]),
    {
      name: "RangeError",
      message: /Invalid --simulate-batch-fail-jobs: expected job numbers from 1/,
    },
  );
  assert.throws(() => parse(["--simulate-batch-error-lines=2"]), RangeError);
});
