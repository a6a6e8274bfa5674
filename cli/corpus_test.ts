import assert from "node:assert/strict";
import { runCli, startCli } from "./_test_utils.ts";
import { main } from "../main.ts";
import { runCorpus } from "./corpus.ts";
import { parseCliArgs } from "./args.ts";
import { simulatedEmbedding, startSimulator } from "../simulator/server.ts";

type OutputRecord = { id: string | number; embedding?: number[]; error?: { code: string } };

function parseRecords(text: string): OutputRecord[] {
  assert.ok(text === "" || text.endsWith("\n"), "the output ends with a newline");
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "embatch-cli-test-" });
}

Deno.test("CLI embeds text from stdin to stdout, one record per line, in order", async () => {
  const { code, stdout, stderr } = await runCli(
    ["--input", "-", "--simulate", "--dimensions", "5", "--batch-size", "2"],
    { stdin: "alpha\r\nbeta\n\ngamma é\ndelta" },
  );
  assert.equal(code, 0, stderr);
  const records = parseRecords(stdout);
  assert.deepEqual(records.map((r) => r.id), [0, 1, 3, 4]);
  const texts = ["alpha", "beta", "gamma é", "delta"];
  records.forEach((r, i) => assert.deepEqual(r.embedding, simulatedEmbedding(texts[i]!, 5)));
  assert.match(stderr, /done after .*: 4 inputs read, 4 embedded, 0 errors/);
  assert.match(stderr, /1 blank lines/);
  assert.match(stderr, /batches: 2 \(2 full, 0 timed out, 0 final\), 2 API calls/);
  assert.match(stderr, /p50 \d+ ms, p95 \d+ ms, p99 \d+ ms/);
});

Deno.test("CLI writes bad JSONL lines as error records in their place and exits 3", async () => {
  const dir = await tempDir();
  try {
    const lines = [
      '{"id":"a","text":"first"}',
      "{broken",
      '{"id":"b","body":"no text field"}',
      '{"id":"a","text":"repeated id"}',
      '{"text":"no id"}',
    ];
    const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
    const invalid = new Uint8Array([...bytes, 0x7b, 0xff, 0x7d, 0x0a]); // line 6: "{\xff}"
    await Deno.writeFile(`${dir}/in.jsonl`, invalid);
    const { code, stderr } = await runCli([
      "--input",
      `${dir}/in.jsonl`,
      "--output",
      `${dir}/out.jsonl`,
      "--simulate",
      "--dimensions",
      "3",
    ]);
    assert.equal(code, 3, stderr);
    const records = parseRecords(await Deno.readTextFile(`${dir}/out.jsonl`));
    assert.deepEqual(records.map((r) => [r.id, r.error?.code ?? "ok"]), [
      ["a", "ok"],
      ["line:2", "INVALID_JSON"],
      ["line:3", "MISSING_TEXT"],
      ["line:5", "ok"],
      ["line:6", "INVALID_UTF8"],
    ]);
    assert.deepEqual(records[3]!.embedding, simulatedEmbedding("no id", 3));
    assert.match(stderr, /line 2 is not valid JSON/);
    assert.match(stderr, /line 3 \(id "b"\) has no "text" field/);
    assert.match(stderr, /line 4: id "a" was already used by an earlier line/);
    assert.match(stderr, /line 6 is not valid UTF-8/);
    assert.match(stderr, /3 errors \(INVALID_JSON 1, MISSING_TEXT 1, INVALID_UTF8 1\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI resumes a run killed with SIGKILL: every id once, each with its own vector", async () => {
  const dir = await tempDir();
  try {
    const count = 20_000;
    const texts = Array.from({ length: count }, (_, i) => `text ${i} ${"x".repeat(i % 13)}`);
    await Deno.writeTextFile(`${dir}/in.txt`, texts.join("\n") + "\n");
    const common = ["--input", `${dir}/in.txt`, "--output", `${dir}/out.jsonl`, "--simulate"];
    const run = await startCli(
      [
        ...common,
        "--dimensions",
        "4",
        "--batch-size",
        "10",
        "--simulate-latency",
        "5ms",
        "--progress-interval",
        "10ms",
      ],
      /^[\d,]{5,} done/m, // 10,000 or more records written
    );
    assert.ok(run.matched, "the run reported progress before ending");
    run.child.kill("SIGKILL");
    const killed = await run.finished;
    assert.notEqual(killed.code, 0);
    const before = await Deno.readTextFile(`${dir}/out.jsonl`);
    assert.ok(before.length > 0, "the killed run left records behind");

    const resumed = await runCli([...common, "--dimensions", "4", "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming .*out\.jsonl: [\d,]+ embedded records kept/);
    const records = parseRecords(await Deno.readTextFile(`${dir}/out.jsonl`));
    assert.equal(records.length, count);
    const ids = new Set(records.map((r) => r.id));
    assert.equal(ids.size, count, "no id twice");
    for (const r of records) {
      assert.deepEqual(r.embedding, simulatedEmbedding(texts[r.id as number]!, 4), `id ${r.id}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI drains on SIGINT: exit 130, every record whole and in order", async () => {
  const dir = await tempDir();
  try {
    const count = 20_000;
    await Deno.writeTextFile(
      `${dir}/in.txt`,
      Array.from({ length: count }, (_, i) => `line ${i}`).join("\n"),
    );
    const run = await startCli(
      [
        "--input",
        `${dir}/in.txt`,
        "--output",
        `${dir}/out.jsonl`,
        "--simulate",
        "--dimensions",
        "2",
        "--batch-size",
        "10",
        "--simulate-latency",
        "5ms",
        "--progress-interval",
        "10ms",
      ],
      /^[\d,]{3,} done/m,
    );
    assert.ok(run.matched);
    run.child.kill("SIGINT");
    const { code, stderr } = await run.finished;
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted: reading stopped/);
    assert.match(stderr, /embatch: interrupted after/);
    const records = parseRecords(await Deno.readTextFile(`${dir}/out.jsonl`));
    assert.ok(records.length > 0 && records.length < count, `${records.length} records`);
    records.forEach((r, i) => {
      assert.equal(r.id, i);
      assert.deepEqual(r.embedding, simulatedEmbedding(`line ${i}`, 2));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI corpus run needs a key or --simulate, and exits 2 without one", async () => {
  const { code, stdout, stderr } = await runCli(["--input", "-"], { stdin: "hello\n" });
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /--input needs an API key: set GEMINI_API_KEY .* or pass --simulate/);
});

Deno.test("CLI never prints or writes the API key, even when the server echoes it", async () => {
  const key = "AIzaSy-test-key-never-print-me-0123456789";
  const dir = await tempDir();
  await using simulator = startSimulator({ apiKeys: [key] });
  // A server that puts the key it was sent into its error message.
  const echo = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      Response.json({
        error: {
          code: 400,
          message: `API key ${request.headers.get("x-goog-api-key")} not valid`,
          status: "INVALID_ARGUMENT",
        },
      }, { status: 400 }),
  );
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "one\ntwo\n");
    const good = await runCli([
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out.jsonl`,
      "--base-url",
      simulator.url,
      "--dimensions",
      "3",
    ], { env: { GEMINI_API_KEY: key } });
    assert.equal(good.code, 0, good.stderr);
    const output = await Deno.readTextFile(`${dir}/out.jsonl`);
    assert.equal(parseRecords(output).length, 2);
    const bad = await runCli([
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/bad.jsonl`,
      "--base-url",
      `http://127.0.0.1:${echo.addr.port}`,
    ], { env: { GEMINI_API_KEY: key } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /API key \[REDACTED\] not valid/);
    const everything = [good.stdout, good.stderr, output, bad.stdout, bad.stderr].join("\n") +
      await Deno.readTextFile(`${dir}/bad.jsonl`);
    assert.ok(!everything.includes(key), "the key appears nowhere");
  } finally {
    await echo.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI rejects bad corpus flags and files with exit 2 before running", async (t) => {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, "x\n");
  await Deno.writeTextFile(`${dir}/done.jsonl`, '{"id":0,"embedding":[1]}\n');
  await Deno.writeTextFile(`${dir}/foreign.jsonl`, "not ours\n");
  const cases: [string[], RegExp][] = [
    [["--input", "-", "--resume"], /--resume needs --output FILE/],
    [["--input", "-", "--inputs", "5"], /--inputs is a demo option/],
    [["--output", "x.jsonl"], /--output needs --input/],
    [
      ["--input", "-", "--format", "csv"],
      /Invalid --format: expected text or jsonl, received "csv"/,
    ],
    [["--input", "-", "--task-type", "SEARCH"], /Invalid --task-type: expected one of/],
    [["--input", "-", "--concurrency", "0"], /Invalid --concurrency: .* from 1 to 64/],
    [["--input", "-", "--rpm", "1.5"], /Invalid --rpm/],
    [["--input", "-", "--dimensions", "4000"], /Invalid --dimensions/],
    [["--input", "-", "--grace", "soon"], /Invalid --grace/],
    [
      ["--input", `${dir}/in.txt`, "--output", `${dir}/in.txt`, "--simulate"],
      /must not be the --input file/,
    ],
    [
      ["--input", `${dir}/missing.txt`, "--simulate"],
      /cannot read --input .*missing\.txt: no such file/,
    ],
    [["--input", dir, "--simulate"], /cannot read --input .*: it is a directory/],
    [
      ["--input", `${dir}/in.txt`, "--output", `${dir}/done.jsonl`, "--simulate"],
      /done\.jsonl already exists: pass --resume to continue it, or --overwrite/,
    ],
    [
      ["--input", `${dir}/in.txt`, "--output", `${dir}/foreign.jsonl`, "--simulate", "--resume"],
      /Cannot resume from .*foreign\.jsonl: line 1 is not valid JSON/,
    ],
    [
      [
        "--input",
        `${dir}/in.txt`,
        "--output",
        `${dir}/done.jsonl`,
        "--simulate",
        "--resume",
        "--dimensions",
        "2",
      ],
      /line 1 has a vector of 1 values, not the 2 asked for with --dimensions/,
    ],
  ];
  try {
    for (const [args, message] of cases) {
      await t.step(args.join(" "), async () => {
        const err: string[] = [];
        const code = await main(args, {
          stdout: () => {},
          stderr: (l) => void err.push(l),
          env: () => undefined,
          output: { write: () => Promise.reject(new Error("nothing may be written")) },
        });
        assert.equal(code, 2, err.join("\n"));
        assert.match(err.join("\n"), message);
      });
    }
    assert.equal(await Deno.readTextFile(`${dir}/foreign.jsonl`), "not ours\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI passes --simulate-* flags to the simulator, and only with --simulate", async () => {
  const err: string[] = [];
  const io = { stdout: () => {}, stderr: (l: string) => void err.push(l), env: () => "key" };
  assert.equal(await main(["--input", "-", "--simulate-rpm", "5"], io), 2);
  assert.match(err.join("\n"), /--simulate-rpm needs --simulate/);
  assert.equal(await main(["--input", "-", "--simulate", "--simulate-error-500", "2"], io), 2);
  assert.match(err.join("\n"), /Invalid --simulate-error-500/);
  // A simulator that fails every call: each input gets an error record once
  // its attempts are spent, and the run exits 3.
  const failed = await runCli(
    ["--input", "-", "--simulate", "--simulate-error-500", "1", "--max-attempts", "2"],
    { stdin: "a\nb\n" },
  );
  assert.equal(failed.code, 3, failed.stderr);
  const records = parseRecords(failed.stdout);
  assert.deepEqual(
    records.map((r) => [r.id, r.error?.code, (r.error as { attempts?: number }).attempts]),
    [[0, "INTERNAL", 2], [1, "INTERNAL", 2]],
  );
  assert.match(failed.stderr, /2 API calls \(1 retries, 0 answered 429\)/);
});

Deno.test("CLI corpus run reads the clock far less than once per line", async () => {
  const count = 5000;
  const corpus = Array.from({ length: count }, (_, i) => JSON.stringify({ id: i, text: `t${i}` }));
  const bytes = new TextEncoder().encode(corpus.join("\n") + "\n");
  const size = Math.ceil(bytes.length / 5);
  const chunks = Array.from({ length: 5 }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
  let written = 0;
  const realNow = performance.now;
  let reads = 0;
  performance.now = () => (reads++, realNow.call(performance));
  let code: number;
  try {
    code = await runCorpus(
      parseCliArgs([
        "--input",
        "-",
        "--format",
        "jsonl",
        "--simulate",
        "--dimensions",
        "2",
        "--quiet",
      ]),
      {
        stdout: () => {},
        stderr: () => {},
        env: () => undefined,
        stdin: ReadableStream.from(chunks),
        output: { write: (b) => Promise.resolve((written += b.length, b.length)) },
      },
    );
  } finally {
    performance.now = realNow;
  }
  assert.equal(code, 0);
  assert.ok(written > count * 10, `${written} bytes written`);
  // Was two reads per line (as each line was read, and as it entered the pipeline).
  assert.ok(reads < count / 4, `${reads} clock reads for ${count} lines`);
});
