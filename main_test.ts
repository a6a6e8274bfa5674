import assert from "node:assert/strict";
import { runCli } from "./cli/_test_utils.ts";
import { main } from "./main.ts";

/** Runs main.ts as a subprocess with a clean environment (no API key) and the demo's permissions. */
function runDemoCli(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { env, permissions: ["--allow-net", "--allow-env"] });
}

Deno.test("CLI runs the demo against the simulator and prints all 100 inputs once", async () => {
  const { code, stdout, stderr } = await runDemoCli([
    "--max-delay",
    "0",
    "--simulate-latency",
    "0",
    "--seed",
    "5",
  ]);
  assert.equal(code, 0, stderr);
  assert.match(
    stderr,
    /no GEMINI_API_KEY set, so using the local Gemini simulator at http:\/\/127\.0\.0\.1:\d+/,
  );
  const contents = stdout.split("\n").filter((l) => l.startsWith("Content: "));
  assert.equal(contents.length, 100);
  const names = contents.map((l) =>
    /^Content: (input-\d+) -> Embedding: \[(-?\d\.\d{4}(, )?){3}\]$/.exec(l)?.[1]
  );
  assert.deepEqual(names, Array.from({ length: 100 }, (_, i) => `input-${i}`));
  const batches = stdout.split("\n").filter((l) => / Batch \d+: /.test(l));
  const batched = batches.reduce((n, l) => n + Number(/: (\d+) inputs?/.exec(l)![1]), 0);
  assert.equal(batched, 100);
  assert.match(stdout, /Done: 100 inputs in \d+ batches .*API calls/);
});

Deno.test("CLI --adaptive runs the demo with adaptive batches and loses nothing", async () => {
  const { code, stdout, stderr } = await runDemoCli([
    "--adaptive",
    "--inputs",
    "40",
    "--max-delay",
    "20ms",
    "--simulate-latency",
    "0",
    "--seed",
    "9",
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /adaptive batches up to 8, max wait 1000 ms/);
  const names = stdout.split("\n").filter((l) => l.startsWith("Content: "))
    .map((l) => l.split(" ")[1]);
  assert.deepEqual(names, Array.from({ length: 40 }, (_, i) => `input-${i}`));
});

Deno.test("CLI demo with --adaptive --rpm keeps its batches within the budget", async () => {
  // 1200 calls per minute: batches at least 50 ms apart; 20 inputs arrive 0-5 ms apart
  // against a simulator that refuses a 31st call in any minute (it must never be hit).
  const { code, stdout, stderr } = await runDemoCli([
    "--adaptive",
    "--rpm",
    "1200",
    "--simulate-rpm",
    "30",
    "--inputs",
    "20",
    "--max-delay",
    "5ms",
    "--simulate-latency",
    "0",
    "--seed",
    "4",
  ]);
  assert.equal(code, 0, stderr);
  const times = [...stdout.matchAll(/^\[\s*([\d.]+)s\] Batch \d+:/gm)].map((m) =>
    Number(m[1]) * 1000
  );
  assert.ok(times.length >= 2 && times.length < 20, `${times.length} batches`);
  for (let i = 1; i < times.length; i++) {
    assert.ok(
      times[i]! - times[i - 1]! >= 49,
      `batches ${i - 1} and ${i}: ${times[i]! - times[i - 1]!} ms`,
    );
  }
  assert.match(stdout, /\(budget 1200 calls\/min\), 0 calls refused with 429/);
});

Deno.test("CLI reports a bad flag with usage and exit code 2", async (t) => {
  const cases: [string[], RegExp][] = [
    [
      ["--batch-size", "0"],
      /Invalid --batch-size: expected a whole number from 1 to 100, received "0"/,
    ],
    [["--batch-size", "101"], /Invalid --batch-size/],
    [["--timeout", "soon"], /Invalid --timeout: .*received "soon"/],
    [["--dimensions", "x"], /Invalid --dimensions/],
    [["--max-delay", "inf"], /Invalid --max-delay: expected a finite duration/],
    [["--base-url", "ftp://x"], /Invalid --base-url/],
    [["--frobnicate"], /Unknown option '--frobnicate'/],
    [["--inputs"], /--inputs/],
    [["extra"], /extra/],
    [["--base-url", "http://127.0.0.1:1234"], /--base-url needs an API key/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const err: string[] = [];
      const code = await main(args, {
        stdout: () => {},
        stderr: (l) => void err.push(l),
        env: () => undefined,
      });
      assert.equal(code, 2);
      assert.equal(err.length, 1, "one message, not the whole help text");
      const lines = err[0]!.split("\n");
      assert.equal(lines.length, 2, err.join("\n"));
      assert.match(lines[0]!, message);
      assert.equal(lines[1], "run with --help for usage");
    });
  }
  await t.step("as a subprocess", async () => {
    const { code, stderr, stdout } = await runDemoCli(["--batch-size", "-3"]);
    assert.equal(code, 2);
    assert.equal(
      stderr,
      'embatch: --batch-size needs a value: a value that starts with "-" is written --batch-size=VALUE\nrun with --help for usage\n',
    );
    assert.equal(stdout, "");
  });
});

Deno.test("CLI --help prints usage and exits 0", async () => {
  const { code, stdout } = await runDemoCli(["--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--batch-size",
      "--timeout",
      "--inputs",
      "--max-delay",
      "--dimensions",
      "--model",
      "--base-url",
      "--simulate",
      "--seed",
    ]
  ) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
});

Deno.test("CLI uses the API key's endpoint when a key is set and never prints the key", async () => {
  // A key with --base-url pointing at a closed port: the run must fail cleanly, naming no key.
  const key = "AIzaSyTESTKEY-never-print-me-123456";
  const { code, stdout, stderr } = await runDemoCli(
    ["--inputs", "3", "--max-delay", "0", "--base-url", "http://127.0.0.1:9"],
    { GEMINI_API_KEY: key },
  );
  assert.equal(code, 1);
  assert.doesNotMatch(stderr, /simulator/);
  assert.ok(!stdout.includes(key) && !stderr.includes(key), "the key must not be printed");
  assert.match(stderr, /^embatch: /m);
});

Deno.test("A first run prints no box about ignored npm build scripts", async () => {
  // A fresh directory with the project's deno.json and deno.lock is a first run for Deno.
  const dir = await Deno.makeTempDir({ prefix: "embatch-first-run-" });
  try {
    const root = new URL(".", import.meta.url).pathname;
    await Deno.copyFile(`${root}deno.json`, `${dir}/deno.json`);
    await Deno.copyFile(`${root}deno.lock`, `${dir}/deno.lock`);
    await Deno.writeTextFile(`${dir}/first.ts`, 'import "@google/genai";\nconsole.log("ran");\n');
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-env", "--allow-read", "first.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    assert.equal(new TextDecoder().decode(stdout), "ran\n");
    assert.doesNotMatch(err, /build scripts/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
