// End-to-end tests of corpus runs with --cache, as subprocesses.
import assert from "node:assert/strict";
import { CORPUS_PERMISSIONS as PERMISSIONS, MAIN, runCli } from "./_test_utils.ts";
import { DatabaseSync } from "node:sqlite";
import { simulatedEmbedding } from "../simulator/server.ts";

interface OutputRecord {
  id: string;
  cache_key?: string;
  embedding: number[];
}

async function readRecords(path: string): Promise<OutputRecord[]> {
  return (await Deno.readTextFile(path)).trim().split("\n").map((line) => JSON.parse(line));
}

const corpus = (texts: string[]) =>
  texts.map((text, i) => JSON.stringify({ id: `doc-${i}`, text })).join("\n") + "\n";
// A hit prints as the API (here the simulator) wrote the vector: the same numbers as a miss.
const simulated = (text: string) => simulatedEmbedding(text, 8);
const RUN = ["--simulate", "--dimensions", "8", "--batch-size", "10"];

Deno.test("CLI --cache: a re-run with 2 of 40 texts edited embeds exactly those 2 again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-cli-cache-" });
  const texts = Array.from({ length: 40 }, (_, i) => `text number ${i}`);
  await Deno.writeTextFile(`${dir}/corpus.jsonl`, corpus(texts));
  const cache = `${dir}/cache.sqlite`;
  const base = ["--input", `${dir}/corpus.jsonl`, ...RUN, "--cache", cache];

  const first = await runCli([...base, "--output", `${dir}/first.jsonl`]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /4 API calls/);
  assert.match(first.stderr, /cache: 0 hits, 40 misses; saved ~0 tokens/);
  const firstRecords = await readRecords(`${dir}/first.jsonl`);
  assert.deepEqual(firstRecords.map((r) => r.id), texts.map((_, i) => `doc-${i}`));
  firstRecords.forEach((r, i) => {
    assert.deepEqual(r.embedding, simulated(texts[i]!));
    assert.match(r.cache_key!, /^[0-9a-f]{64}$/);
  });

  const edited = [...texts];
  edited[3] = "text number 3, edited";
  edited[29] = "text number 29, edited";
  await Deno.writeTextFile(`${dir}/corpus.jsonl`, corpus(edited));
  const second = await runCli([...base, "--output", `${dir}/second.jsonl`]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /1 API calls/);
  assert.match(second.stderr, /cache: 38 hits, 2 misses; saved ~\d+ tokens \(estimated\), ~\$/);
  const secondRecords = await readRecords(`${dir}/second.jsonl`);
  secondRecords.forEach((r, i) => {
    if (i === 3 || i === 29) {
      assert.deepEqual(r.embedding, simulated(edited[i]!));
      assert.notEqual(r.cache_key, firstRecords[i]!.cache_key);
    } else {
      assert.deepEqual(r, firstRecords[i], `record ${i} changed`);
    }
  });
});

Deno.test("CLI --resume --refresh-changed replaces the records of changed texts, from the cache", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-cli-cache-" });
  const texts = Array.from({ length: 30 }, (_, i) => `entry ${i}`);
  await Deno.writeTextFile(`${dir}/corpus.jsonl`, corpus(texts));
  const output = `${dir}/vectors.jsonl`;
  const base = ["--input", `${dir}/corpus.jsonl`, ...RUN, "--cache", `${dir}/c.sqlite`];
  assert.equal((await runCli([...base, "--output", output])).code, 0);

  const edited = [...texts];
  edited[7] = "entry 7, rewritten";
  edited[20] = "entry 20, rewritten";
  await Deno.writeTextFile(`${dir}/corpus.jsonl`, corpus(edited));
  // Plain --resume detects nothing: the ids are done.
  const plain = await runCli([...base, "--output", output, "--resume"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /0 embedded, 0 errors/);

  const refresh = await runCli([...base, "--output", output, "--resume", "--refresh-changed"]);
  assert.equal(refresh.code, 0, refresh.stderr);
  assert.match(
    refresh.stderr,
    /resuming .*: 28 embedded records kept, 2 records of changed texts dropped/,
  );
  assert.match(refresh.stderr, /2 embedded/);
  assert.match(refresh.stderr, /cache: 0 hits, 2 misses/);
  const records = await readRecords(output);
  assert.equal(records.length, 30);
  const byId = new Map(records.map((r) => [r.id, r]));
  assert.equal(byId.size, 30);
  edited.forEach((text, i) => assert.deepEqual(byId.get(`doc-${i}`)!.embedding, simulated(text)));

  // Nothing changed since: a second refresh keeps everything and calls nothing.
  const again = await runCli([...base, "--output", output, "--resume", "--refresh-changed"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /30 embedded records kept\n/);
  assert.match(again.stderr, /0 API calls/);
});

Deno.test("CLI --cache-max-size bounds the cache by evicting old vectors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-cli-cache-" });
  await Deno.writeTextFile(
    `${dir}/corpus.txt`,
    Array.from({ length: 50 }, (_, i) => `line ${i}`).join("\n") + "\n",
  );
  const run = await runCli([
    "--input",
    `${dir}/corpus.txt`,
    "--output",
    `${dir}/out.jsonl`,
    ...RUN,
    "--cache",
    `${dir}/c.sqlite`,
    "--cache-max-size",
    "2KB",
  ]);
  assert.equal(run.code, 0, run.stderr);
  // 2000 bytes at 32 + 96 bytes an entry: 15 entries.
  assert.match(run.stderr, /c\.sqlite: 15 vectors, 0\.0 MB, 35 evicted/);
});

Deno.test("CLI --cache default uses $XDG_CACHE_HOME/embatch/cache.sqlite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-cli-cache-" });
  await Deno.writeTextFile(`${dir}/corpus.txt`, "one\ntwo\n");
  // Deno keeps its own cache under XDG_CACHE_HOME too: point it at the current one.
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const { denoDir } = JSON.parse(new TextDecoder().decode(info.stdout));
  const run = await runCli([
    "--input",
    `${dir}/corpus.txt`,
    "--output",
    `${dir}/out.jsonl`,
    ...RUN,
    "--cache",
    "default",
  ], { env: { XDG_CACHE_HOME: `${dir}/xdg`, DENO_DIR: denoDir } });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /xdg\/embatch\/cache\.sqlite: 2 vectors/);
  assert.ok((await Deno.stat(`${dir}/xdg/embatch/cache.sqlite`)).isFile);
});

Deno.test("CLI refuses bad --cache flags and files with exit 2 before running", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-cli-cache-" });
  await Deno.writeTextFile(`${dir}/corpus.txt`, "one\n");
  const base = ["--input", `${dir}/corpus.txt`, "--output", `${dir}/out.jsonl`, "--simulate"];
  const cases: [string, string[], RegExp][] = [
    ["max size without cache", ["--cache-max-size", "1MB"], /--cache-max-size needs --cache/],
    [
      "bad size",
      ["--cache", `${dir}/c.sqlite`, "--cache-max-size", "lots"],
      /Invalid --cache-max-size/,
    ],
    [
      "refresh without resume",
      ["--cache", `${dir}/c.sqlite`, "--refresh-changed"],
      /--refresh-changed needs --resume and --cache/,
    ],
    [
      "refresh without cache",
      ["--resume", "--refresh-changed"],
      /--refresh-changed needs --resume and --cache/,
    ],
    [
      "with --batch-api",
      ["--batch-api", "--cache", `${dir}/c.sqlite`],
      /--cache does not apply with --batch-api yet/,
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      const run = await runCli([...base, ...args]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
    });
  }
  await t.step("a foreign SQLite file", async () => {
    const path = `${dir}/other.sqlite`;
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE t (x)");
    db.close();
    const run = await runCli([...base, "--cache", path]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /embatch: --cache: Cannot use cache file .*other\.sqlite: it is an SQLite database of another application \(application_id 0\); delete it or pass another --cache path/,
    );
    await assert.rejects(Deno.stat(`${dir}/out.jsonl`), Deno.errors.NotFound);
  });
});

Deno.test("CLI --cache survives a run killed with SIGKILL: the resumed run completes from it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-cli-cache-" });
  const texts = Array.from({ length: 6000 }, (_, i) => `killed run text ${i}`);
  await Deno.writeTextFile(`${dir}/corpus.jsonl`, corpus(texts));
  const args = [
    "--input",
    `${dir}/corpus.jsonl`,
    "--output",
    `${dir}/out.jsonl`,
    "--simulate",
    "--simulate-latency",
    "20ms",
    "--dimensions",
    "8",
    "--concurrency",
    "1",
    "--cache",
    `${dir}/c.sqlite`,
    "--progress-interval",
    "50ms",
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: { NO_COLOR: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Kill once 2,500 records are done: two batches of new vectors are in the cache by then.
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let stderr = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    stderr += value;
    const counts = [...stderr.matchAll(/([\d,]+) done/g)].map((m) =>
      Number(m[1]!.replaceAll(",", ""))
    );
    if (Math.max(0, ...counts) >= 2500) break;
  }
  child.kill("SIGKILL");
  await reader.cancel();
  assert.equal((await child.status).signal, "SIGKILL", stderr);

  const resumed = await runCli([...args, "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const records = await readRecords(`${dir}/out.jsonl`);
  assert.equal(new Set(records.map((r) => r.id)).size, 6000);
  for (const r of records) {
    assert.deepEqual(r.embedding, simulated(texts[Number(r.id.slice(4))]!));
  }
  // A third run over a new output: the killed run lost at most its last unwritten batch of new
  // vectors (1,024), every other text is answered from the cache.
  const again = await runCli([
    ...args.slice(0, 2),
    "--output",
    `${dir}/again.jsonl`,
    ...args.slice(4),
  ]);
  assert.equal(again.code, 0, again.stderr);
  const [, hits, misses] = /cache: ([\d,]+) hits, ([\d,]+) misses/.exec(again.stderr)!.map((v) =>
    Number(v.replaceAll(",", ""))
  );
  assert.equal(hits! + misses!, 6000);
  assert.ok(misses! <= 1024, again.stderr);
  assert.match(again.stderr, /c\.sqlite: 6,000 vectors/);
});

Deno.test("CLI --cache keys a document's title with its text: a changed title is embedded again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-cli-cache-" });
  const write = (titles: string[]) =>
    Deno.writeTextFile(
      `${dir}/docs.jsonl`,
      titles.map((title, i) => JSON.stringify({ id: i, title, text: "same body" })).join("\n") +
        "\n",
    );
  const args = (output: string) => [
    "--input",
    `${dir}/docs.jsonl`,
    "--output",
    `${dir}/${output}`,
    ...RUN,
    "--task-type",
    "RETRIEVAL_DOCUMENT",
    "--cache",
    `${dir}/c.sqlite`,
  ];
  await write(["Alpha", "Beta", "Gamma"]);
  const first = await runCli(args("first.jsonl"));
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /cache: 0 hits, 3 misses/);
  await write(["Alpha", "Beta, revised", "Gamma"]);
  const second = await runCli(args("second.jsonl"));
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /cache: 2 hits, 1 misses/);
  const [a, b] = [
    await readRecords(`${dir}/first.jsonl`),
    await readRecords(`${dir}/second.jsonl`),
  ];
  assert.equal(a[0]!.cache_key, b[0]!.cache_key);
  assert.notEqual(a[1]!.cache_key, b[1]!.cache_key);
});
