// Subprocess tests of corpus runs against what users hit (issue 9): an
// unreachable or silent API, two runs on one output, a resume with other
// settings, colliding and huge ids, a full disk, a hard-linked output.
import assert from "node:assert/strict";
import {
  CORPUS_PERMISSIONS as PERMISSIONS,
  lines,
  MAIN,
  runCli,
  withTempDir,
} from "./_test_utils.ts";

/** A loopback port with nothing listening on it. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("CLI stops at once with exit 1 when the API refuses connections, naming host and cause", async () => {
  await withTempDir(async (dir) => {
    const port = closedPort();
    const texts = Array.from({ length: 20_000 }, (_, i) => `text ${i}`);
    await Deno.writeTextFile(`${dir}/in.txt`, texts.join("\n") + "\n");
    const started = Date.now();
    const { code, stderr } = await runCli([
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out.jsonl`,
      "--base-url",
      `http://127.0.0.1:${port}`,
    ], { env: { GEMINI_API_KEY: "k" } }); // a one-letter key must not garble every "k" in the messages
    const seconds = (Date.now() - started) / 1000;
    assert.equal(code, 1, stderr);
    assert.match(stderr, new RegExp(`Cannot reach 127\\.0\\.0\\.1:${port}: connection refused`));
    assert.match(stderr, /check --base-url \(or GOOGLE_GEMINI_BASE_URL\) and the network/);
    const output = await Deno.readTextFile(`${dir}/out.jsonl`).catch(() => "");
    assert.equal(lines(output).length, 0, "inputs never embedded get no error record");
    console.log(`unreachable API, 20,000 inputs: exit ${code} after ${seconds.toFixed(1)} s`);
  });
});

Deno.test("CLI stops with exit 1 when the API accepts connections but never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn); // read nothing, answer nothing
  })();
  try {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/in.txt`, "one\ntwo\nthree\n");
      const started = Date.now();
      const { code, stderr } = await runCli([
        "--input",
        `${dir}/in.txt`,
        "--output",
        `${dir}/out.jsonl`,
        "--base-url",
        `http://127.0.0.1:${port}`,
        "--call-timeout",
        "300ms",
      ], { env: { GEMINI_API_KEY: "test-key-0123456789" } });
      const seconds = (Date.now() - started) / 1000;
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        new RegExp(`Cannot reach 127\\.0\\.0\\.1:${port}: no answer within 0\\.3s`),
      );
      assert.equal(lines(await Deno.readTextFile(`${dir}/out.jsonl`)).length, 0);
      console.log(`silent API, --call-timeout 300ms: exit ${code} after ${seconds.toFixed(1)} s`);
    });
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("CLI --call-timeout and --max-outage are checked like other durations", async () => {
  const bad = await runCli(["--input", "-", "--simulate", "--call-timeout", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Invalid --call-timeout: expected more than 0/);
  const demo = await runCli(["--max-outage", "1m"]);
  assert.equal(demo.code, 2);
  assert.match(demo.stderr, /--max-outage needs --input/);
});

Deno.test("CLI lets one run at a time write an output; the lock goes with a kill -9", async () => {
  await withTempDir(async (dir) => {
    const texts = Array.from({ length: 3_000 }, (_, i) => `text ${i}`);
    await Deno.writeTextFile(`${dir}/in.txt`, texts.join("\n") + "\n");
    const out = `${dir}/out.jsonl`;
    const args = ["--input", `${dir}/in.txt`, "--output", out, "--simulate", "--dimensions", "4"];
    // A slow first run: one call in flight, 50 ms each.
    const first = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMISSIONS,
        MAIN,
        ...args,
        "--batch-size",
        "10",
        "--concurrency",
        "1",
        "--simulate-latency",
        "50ms",
      ],
      env: { NO_COLOR: "1" },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = first.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("embatch: embedding")) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value;
    }
    const second = await runCli([...args, "--resume"]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(`--output ${out.replaceAll(".", "\\.")} is in use: another embatch run holds it`),
    );
    first.kill("SIGKILL");
    await first.status;
    await reader.cancel();
    const third = await runCli([...args, "--resume", "--quiet"]);
    assert.equal(third.code, 0, third.stderr);
    const ids = lines(await Deno.readTextFile(out)).map((l) => JSON.parse(l).id);
    assert.equal(ids.length, 3_000);
    assert.equal(new Set(ids).size, 3_000, "every id exactly once");
  });
});

Deno.test("CLI --resume uses what the file was made with and refuses other settings", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out.jsonl`;
    await Deno.writeTextFile(`${dir}/in.txt`, "a\nb\n");
    const base = ["--input", `${dir}/in.txt`, "--output", out, "--simulate", "--quiet"];
    const first = await runCli([...base, "--dimensions", "8", "--task-type", "CLUSTERING"]);
    assert.equal(first.code, 0, first.stderr);
    const meta = JSON.parse(await Deno.readTextFile(`${out}.meta.json`));
    assert.deepEqual(meta, {
      embatch: 1,
      model: "gemini-embedding-2",
      dimensions: 8,
      taskType: "CLUSTERING",
      normalize: true,
    });
    await Deno.writeTextFile(`${dir}/in.txt`, "a\nb\nc\nd\n");
    const resumed = await runCli([...base, "--resume"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const vectors = lines(await Deno.readTextFile(out)).map((l) => JSON.parse(l).embedding);
    assert.deepEqual(vectors.map((v: number[]) => v.length), [8, 8, 8, 8]);

    const cases: [string[], RegExp][] = [
      [["--dimensions", "3072"], /made with --dimensions 8, not --dimensions 3072/],
      [
        ["--task-type", "RETRIEVAL_QUERY"],
        /--task-type CLUSTERING, not --task-type RETRIEVAL_QUERY/,
      ],
      [
        ["--model", "text-embedding-004"],
        /--model gemini-embedding-2, not --model text-embedding-004/,
      ],
      [
        ["--no-normalize"],
        /made with unit-length vectors \(no --no-normalize\), not --no-normalize/,
      ],
    ];
    for (const [flags, message] of cases) {
      const refused = await runCli([...base, "--resume", ...flags]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, message);
      assert.match(refused.stderr, /out\.jsonl\.meta\.json/);
    }
    assert.equal(lines(await Deno.readTextFile(out)).length, 4, "the file was left alone");
  });
});

Deno.test("CLI --resume of a file without a settings record keeps to its vectors' length", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out.jsonl`;
    await Deno.writeTextFile(`${dir}/in.txt`, "a\nb\n");
    await Deno.writeTextFile(out, '{"id":0,"embedding":[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]}\n');
    const resumed = await runCli([
      "--input",
      `${dir}/in.txt`,
      "--output",
      out,
      "--simulate",
      "--resume",
      "--quiet",
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const vectors = lines(await Deno.readTextFile(out)).map((l) => JSON.parse(l).embedding);
    assert.deepEqual(vectors.map((v: number[]) => v.length), [8, 8]);
    assert.equal(JSON.parse(await Deno.readTextFile(`${out}.meta.json`)).dimensions, 8);
  });
});

Deno.test("CLI refuses an --output that is a hard link to the --input", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "keep me\n");
    await Deno.link(`${dir}/in.txt`, `${dir}/out.jsonl`);
    const { code, stderr } = await runCli([
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out.jsonl`,
      "--simulate",
      "--overwrite",
    ]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--output must not be the --input file: .*out\.jsonl is .*in\.txt/);
    assert.equal(await Deno.readTextFile(`${dir}/in.txt`), "keep me\n");
  });
});

Deno.test("CLI keeps ids exact and apart: big numbers, line ids, bad lines", async () => {
  await withTempDir(async (dir) => {
    const input = [
      "{broken",
      '{"id":1,"text":"explicit one"}',
      '{"id":12345678901234567891,"text":"big a"}',
      '{"id":12345678901234567892,"text":"big b"}',
      '{"text":"no id"}',
    ];
    await Deno.writeTextFile(`${dir}/in.jsonl`, input.join("\n") + "\n");
    const out = `${dir}/out.jsonl`;
    const args = ["--input", `${dir}/in.jsonl`, "--output", out, "--simulate", "--quiet"];
    const first = await runCli([...args, "--dimensions", "2"]);
    assert.equal(first.code, 3, first.stderr);
    const ids = () => lines(Deno.readTextFileSync(out)).map((l) => /^\{"id":([^,]+),/.exec(l)![1]);
    assert.deepEqual(ids(), [
      '"line:1"',
      "1",
      "12345678901234567891",
      "12345678901234567892",
      '"line:5"',
    ]);
    // A resume skips exactly the embedded ids, and retries only the bad line.
    const again = await runCli([...args, "--resume"]);
    assert.equal(again.code, 3, again.stderr);
    assert.deepEqual(ids().sort(), [
      '"line:1"',
      '"line:5"',
      "1",
      "12345678901234567891",
      "12345678901234567892",
    ]);
  });
});

Deno.test("CLI names --truncate for texts over the token limit, and --truncate embeds them", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/out.jsonl`;
    await Deno.writeTextFile(`${dir}/in.txt`, `short\n${"word ".repeat(60)}\n`);
    const args = ["--input", `${dir}/in.txt`, "--output", out, "--simulate", "--dimensions", "2"];
    const first = await runCli([...args, "--max-input-tokens", "20"]);
    assert.equal(first.code, 3, first.stderr);
    const record = JSON.parse(lines(await Deno.readTextFile(out))[1]!);
    assert.equal(record.error.code, "TOKEN_LIMIT");
    assert.match(record.error.message, /run with --truncate/);
    assert.doesNotMatch(first.stderr, /retried by running again with --resume/);
    assert.match(first.stderr, /1 texts are over the token limit: --resume with --truncate/);
    const second = await runCli([...args, "--max-input-tokens", "20", "--resume", "--truncate"]);
    assert.equal(second.code, 0, second.stderr);
    const ids = lines(await Deno.readTextFile(out)).map((l) => JSON.parse(l));
    assert.deepEqual(ids.map((r) => [r.id, r.embedding?.length]), [[0, 2], [1, 2]]);
  });
});

Deno.test("CLI on a full disk counts only what was written and names the file", async () => {
  await withTempDir(async (dir) => {
    const texts = Array.from({ length: 3_000 }, (_, i) => `text ${i}`);
    await Deno.writeTextFile(`${dir}/in.txt`, texts.join("\n") + "\n");
    const { code, stderr } = await runCli([
      "--input",
      `${dir}/in.txt`,
      "--output",
      "/dev/full",
      "--overwrite",
      "--simulate",
      "--dimensions",
      "8",
    ], { env: {}, permissions: ["--allow-all"] }); // Deno opens a device file only with --allow-all; the run uses --simulate
    assert.equal(code, 1, stderr);
    assert.match(stderr, /embatch: cannot write \/dev\/full: No space left on device/);
    assert.match(stderr, /stopped after .*: [\d,]+ inputs read, 0 embedded, 0 errors/);
  });
});

Deno.test("CLI start-up line names the host GOOGLE_GEMINI_BASE_URL points at", async () => {
  const { startSimulator } = await import("../simulator/server.ts");
  await using simulator = startSimulator();
  const { code, stderr } = await runCli(["--input", "-", "--dimensions", "2"], {
    env: { GEMINI_API_KEY: "test-key-0123456789", GOOGLE_GEMINI_BASE_URL: simulator.url },
  });
  assert.equal(code, 0, stderr);
  assert.ok(
    stderr.includes(`gemini-embedding-2 at ${simulator.url} (GOOGLE_GEMINI_BASE_URL)`),
    stderr,
  );
  assert.doesNotMatch(stderr, /the Gemini API/);
});

Deno.test("CLI progress shows a 429, its retry and the quota wait while the wait is on", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "a\nb\nc\n");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMISSIONS,
        MAIN,
        ...["--input", `${dir}/in.txt`, "--output", `${dir}/out.jsonl`, "--simulate"],
        ...["--simulate-rpm", "1", "--batch-size", "1", "--concurrency", "1"],
        ...["--progress-interval", "100ms", "--grace", "100ms", "--dimensions", "2"],
      ],
      env: { NO_COLOR: "1" },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const wanted = /1 retry \| 1 × 429 \| waiting: quota: paused by a 429 for 0:\d\d more/;
    let stderr = "";
    // The server asks for about a minute: the line must say so long before that.
    const giveUp = setTimeout(() => child.kill("SIGKILL"), 20_000);
    while (!wanted.test(stderr)) {
      const { done, value } = await reader.read();
      if (done) break;
      stderr += value;
    }
    clearTimeout(giveUp);
    assert.match(stderr, wanted);
    child.kill("SIGINT");
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      stderr += value;
    }
    assert.equal((await child.status).code, 130, stderr);
  });
});

Deno.test("CLI waits out an outage after successes, then stops with exit 1 and points to --resume", async () => {
  const { createSimulatorHandler } = await import("../simulator/server.ts");
  const handler = createSimulatorHandler();
  let calls = 0;
  // Answers the first call on a connection it then closes, and stops listening:
  // every later connection is refused.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (++calls > 1) return new Response("not expected", { status: 500 });
      const answer = await handler(request);
      void server.shutdown();
      const headers = new Headers(answer.headers);
      headers.set("connection", "close");
      return new Response(answer.body, { status: answer.status, headers });
    },
  );
  try {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/in.txt`, "a\nb\nc\nd\n");
      const out = `${dir}/out.jsonl`;
      const { code, stderr } = await runCli([
        ...["--input", `${dir}/in.txt`, "--output", out, "--dimensions", "2"],
        ...["--base-url", `http://127.0.0.1:${server.addr.port}`, "--batch-size", "1"],
        ...["--concurrency", "1", "--max-outage", "2s", "--max-attempts", "1"],
        ...["--progress-interval", "100ms"],
      ], { env: { GEMINI_API_KEY: "test-key-0123456789" } });
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /waiting: API unreachable for 0:0\d \(connection refused\), retrying until 0:02/,
        "progress says the outage is being waited out",
      );
      assert.match(
        stderr,
        /Cannot reach 127\.0\.0\.1:\d+: connection refused \(calls failed for [\d.]+s after earlier calls had succeeded\); the inputs not yet embedded are not done: run again with --resume/,
      );
      const records = lines(await Deno.readTextFile(out)).map((l) => JSON.parse(l));
      assert.deepEqual(records.map((r) => [r.id, r.error?.code ?? "ok"]), [[0, "ok"]]);
    });
  } finally {
    await server.shutdown();
  }
});
