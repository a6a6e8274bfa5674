import assert from "node:assert/strict";
import { normalize } from "../gemini/normalize.ts";
import OpenAI from "openai";
import { runServe } from "./serve.ts";
import { simulatedEmbedding, startSimulator } from "../simulator/mod.ts";

/** What the server answers for `text`: the values exactly as the upstream sent them. */
function expected(text: string, dimensions: number): number[] {
  return normalize(simulatedEmbedding(text, dimensions, "gemini-embedding-001"));
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SECRET = "sk-upstream-key-do-not-leak-91c2";

function captured(env: Record<string, string> = {}, signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (line: string) => void out.push(line),
      stderr: (line: string) => void err.push(line),
      env: (name: string) => env[name],
      ...(signal && { signal }),
    },
  };
}

Deno.test("serve refuses a non-loopback bind without tokens, in one line, before binding", async () => {
  const { io, err } = captured({ GEMINI_API_KEY: SECRET });
  assert.equal(await runServe(["--host", "0.0.0.0"], io), 2);
  assert.equal(err.length, 1);
  assert.match(
    err[0]!,
    /refusing to bind 0\.0\.0\.0 without client tokens.*\nrun with --help for usage$/,
  );
});

Deno.test("serve needs an upstream key or --simulate, and names bad flags", async () => {
  const missing = captured();
  assert.equal(await runServe([], missing.io), 2);
  assert.match(missing.err[0]!, /no upstream key: set GEMINI_API_KEY, or use --simulate/);
  const bad = captured();
  assert.equal(await runServe(["--port", "x"], bad.io), 2);
  assert.match(bad.err[0]!, /Invalid --port: .* received "x"/);
  const help = captured();
  assert.equal(await runServe(["--help"], help.io), 0);
  assert.match(help.out[0]!, /--token-file PATH/);
});

Deno.test("serve reads client tokens from the environment and answers 401 without one", async () => {
  const stop = new AbortController();
  const { io, out } = captured({ EMBATCH_TOKENS: "t1,t2" }, stop.signal);
  const running = runServe(["--simulate", "--timeout", "1ms"], io);
  for (let i = 0; i < 10_000 && out.length === 0; i++) {
    await new Promise((resolve) => queueMicrotask(() => resolve(null)));
  }
  const url = out[0]!.replace("listening on ", "");
  const refused = await fetch(`${url}/v1/embeddings`, {
    method: "POST",
    body: JSON.stringify({ model: "gemini-embedding-001", input: "x" }),
  });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const accepted = await fetch(`${url}/v1/embeddings`, {
    method: "POST",
    headers: { authorization: "Bearer t2" },
    body: JSON.stringify({ model: "gemini-embedding-001", input: "x", dimensions: 3 }),
  });
  assert.deepEqual((await accepted.json()).data[0].embedding, expected("x", 3));
  stop.abort();
  assert.equal(await running, 0);
});

Deno.test("main.ts serve as a process: listens, answers the openai SDK, drains on SIGTERM, exits 0, never prints the key", async () => {
  await using simulator = startSimulator({ apiKeys: [SECRET] });
  const tokenFile = await Deno.makeTempFile();
  await Deno.writeTextFile(tokenFile, "# clients\nclient-a\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      `--allow-read=${tokenFile}`,
      MAIN,
      "serve",
      "--port",
      "0",
      "--base-url",
      simulator.url,
      "--token-file",
      tokenFile,
      "--timeout",
      "1h",
      "--batch-size",
      "100",
    ],
    env: { NO_COLOR: "1", GEMINI_API_KEY: SECRET },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n")) {
      const { done, value } = await lines.read();
      if (done) break;
      first += value;
    }
    const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(first);
    assert.ok(match, `first stdout line: ${first}`);
    const client = new OpenAI({ apiKey: "client-a", baseURL: `${match[1]}/v1`, maxRetries: 0 });
    // Batches leave only when full or on shutdown: these three wait for SIGTERM's drain.
    const answers = ["one", "two", "three"].map((input) =>
      client.embeddings.create({ model: "gemini-embedding-001", input, dimensions: 4 })
    );
    const metrics = async () => await (await fetch(`${match[1]}/metrics`)).text();
    for (let i = 0; i < 10_000 && !/^embatch_queue_texts 3$/m.test(await metrics()); i++);
    assert.equal(simulator.stats.requests, 0);
    child.kill("SIGTERM");
    const vectors = (await Promise.all(answers)).map((a) => a.data[0]!.embedding);
    assert.deepEqual(
      vectors,
      ["one", "two", "three"].map((t) => expected(t, 4).map(Math.fround)),
    );
    let rest = "";
    for (;;) {
      const { done, value } = await lines.read();
      if (done) break;
      rest += value;
    }
    const status = await child.status;
    const stderr = await new Response(child.stderr).text();
    assert.equal(status.code, 0, stderr);
    assert.equal(simulator.stats.requests, 1, "the drain sent the queued texts in one call");
    assert.match(stderr, /stopping: draining 3 queued texts/);
    for (const text of [first, rest, stderr]) assert.ok(!text.includes(SECRET), text);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await Deno.remove(tokenFile);
  }
});
