// Subprocess tests of corpus runs against what users hit (issue 9): an
// unreachable or silent API, two runs on one output, a resume with other
// settings, colliding and huge ids, a full disk, a hard-linked output.
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PERMISSIONS = ["--allow-net=127.0.0.1", "--allow-env", "--allow-read", "--allow-write"];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main.ts as a subprocess with a clean environment. */
async function runCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "embatch-safety-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

/** A loopback port with nothing listening on it. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("CLI stops at once with exit 1 when the API refuses connections, naming host and cause", async () => {
  await withDir(async (dir) => {
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
    ], { GEMINI_API_KEY: "k" }); // a one-letter key must not garble every "k" in the messages
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
    await withDir(async (dir) => {
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
      ], { GEMINI_API_KEY: "test-key-0123456789" });
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
