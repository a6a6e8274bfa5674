import assert from "node:assert/strict";
import { startCli } from "./_test_utils.ts";
import { simulatedEmbedding, startSimulator } from "../simulator/server.ts";
import { parseCliArgs, UsageError } from "./args.ts";
import { batchJournalPath, runBatchCorpus } from "./batch_corpus.ts";

/** The CLI's default model (no --model is passed). */
const MODEL = "gemini-embedding-2";

function records(text: string): { id: string | number; embedding?: number[]; error?: unknown }[] {
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

async function corpusDir(lines: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "embatch-batch-cli-" });
  const text = Array.from({ length: lines }, (_, i) => `corpus text number ${i}`).join("\n");
  await Deno.writeTextFile(`${dir}/in.txt`, text + "\n");
  return dir;
}

function assertComplete(output: string, lines: number): void {
  const all = records(output);
  assert.equal(all.length, lines, "one record per line");
  assert.equal(new Set(all.map((r) => r.id)).size, lines, "no id twice");
  for (const record of all) {
    assert.deepEqual(
      record.embedding,
      simulatedEmbedding(`corpus text number ${record.id}`, 8, MODEL),
    );
  }
}

Deno.test("CLI --batch-api: SIGKILL while jobs are pending, then --resume creates no job twice", async () => {
  await using simulator = startSimulator({ batch: { pendingMs: 1500, runningMs: 100 } });
  const dir = await corpusDir(400);
  try {
    const args = [
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out.jsonl`,
      "--batch-api",
      "--base-url",
      simulator.url,
      "--dimensions",
      "8",
      "--job-max-tokens",
      "500",
      "--max-enqueued-tokens",
      "1500",
      "--poll-interval",
      "100ms",
      "--progress-interval",
      "50ms",
    ];
    const env = { GEMINI_API_KEY: "test-key" };
    const first = await startCli(args, /jobs \d+ pending/, { env: env });
    assert.ok(first.matched, "jobs were created");
    first.child.kill("SIGKILL");
    const killed = await first.finished;
    assert.equal(killed.signal, "SIGKILL");
    const createdBeforeKill = simulator.batch.stats.jobsCreated;
    assert.ok(createdBeforeKill > 0);

    const second = await startCli([...args, "--resume"], /^$/, { env: env });
    const resumed = await second.finished;
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /reattached/);
    assertComplete(await Deno.readTextFile(`${dir}/out.jsonl`), 400);
    const stats = simulator.batch.stats;
    assert.equal(stats.duplicateJobs, 0, "no job created twice for the same inputs");
    assert.equal(stats.linesEmbedded, 400, "every text embedded (and paid for) once");
    assert.equal(stats.filesDeleted, stats.filesUploaded + stats.jobsCreated);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI --batch-api: Ctrl-C detaches, a new run without --resume is refused, --cancel-jobs cancels", async () => {
  await using simulator = startSimulator({ batch: { pendingMs: 3_600_000 } });
  const dir = await corpusDir(50);
  try {
    const common = [
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out.jsonl`,
      "--batch-api",
      "--base-url",
      simulator.url,
    ];
    const env = { GEMINI_API_KEY: "test-key" };
    const run = await startCli(
      [...common, "--poll-interval", "100ms", "--progress-interval", "50ms"],
      /jobs \d+ pending/,
      { env: env },
    );
    assert.ok(run.matched);
    run.child.kill("SIGINT");
    const detached = await run.finished;
    assert.equal(detached.code, 130);
    assert.match(detached.stderr, /detached: 1 jobs keep running at Google/);
    assert.doesNotMatch(detached.stderr, /test-key/);

    const refused = await (await startCli([...common, "--overwrite"], /^$/, { env: env })).finished;
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /1 unfinished Batch API jobs for this output: pass --resume/);

    const cancel = await (await startCli([...common, "--cancel-jobs"], /^$/, { env: env }))
      .finished;
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stderr, /1 jobs cancelled/);
    assert.equal(simulator.batch.stats.jobsCancelled, 1);
    const journal = await Deno.readTextFile(batchJournalPath(`${dir}/out.jsonl`));
    assert.match(journal, /"state":"CANCELLED_BY_USER"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI --batch-api --simulate: error lines and a failed job still give one record per id, with a cost summary", async () => {
  const dir = await corpusDir(300);
  try {
    const run = await startCli([
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out.jsonl`,
      "--batch-api",
      "--simulate",
      "--simulate-batch-pending",
      "20ms",
      "--simulate-batch-running",
      "20ms",
      "--simulate-batch-error-lines",
      "0.05",
      "--simulate-batch-fail-jobs",
      "2",
      "--job-max-tokens",
      "400",
      "--poll-interval",
      "30ms",
      "--dimensions",
      "8",
    ], /^$/);
    const { code, stderr } = await run.finished;
    assert.equal(code, 0, stderr);
    assertComplete(await Deno.readTextFile(`${dir}/out.jsonl`), 300);
    assert.match(stderr, /1 failed\/expired\/cancelled and resubmitted/);
    assert.match(stderr, /estimated cost \$[\d.]+ at batch price vs \$[\d.]+ interactive/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseCliArgs checks the --batch-api flags", async (t) => {
  const corpus = ["--input", "in.txt", "--output", "out.jsonl"];
  await t.step("defaults", () => {
    const options = parseCliArgs([...corpus, "--batch-api"]);
    assert.equal(options.batchApi, true);
    assert.equal(options.jobDeadlineMs, 86_400_000);
    assert.equal(options.pollIntervalMs, undefined);
    assert.equal(options.jobMaxTokens, undefined);
  });
  await t.step("values", () => {
    const options = parseCliArgs([
      ...corpus,
      "--batch-api",
      "--job-max-tokens",
      "5000",
      "--poll-interval",
      "10s",
      "--job-deadline",
      "2h",
      "--price",
      "0.15",
    ]);
    assert.equal(options.jobMaxTokens, 5000);
    assert.equal(options.pollIntervalMs, 10_000);
    assert.equal(options.jobDeadlineMs, 7_200_000);
    assert.equal(options.price, 0.15);
  });
  await t.step("usage errors", () => {
    const refuse = (args: string[], message: RegExp) =>
      assert.throws(() => parseCliArgs(args), (error: Error) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, message);
        return true;
      });
    refuse([...corpus, "--job-max-tokens", "5"], /--job-max-tokens needs --batch-api/);
    refuse([...corpus, "--batch-api", "--rpm", "5"], /--rpm does not apply with --batch-api/);
    refuse(["--input", "in.txt", "--batch-api"], /--batch-api needs --output FILE/);
    refuse([...corpus, "--batch-api", "--job-max-tokens", "0"], /Invalid --job-max-tokens/);
    refuse([...corpus, "--batch-api", "--price", "cheap"], /Invalid --price/);
  });
});

Deno.test("CLI --batch-api --resume refuses a journal written for other settings (exit 2)", async () => {
  const dir = await corpusDir(3);
  try {
    const output = `${dir}/out.jsonl`;
    await Deno.writeTextFile(
      batchJournalPath(output),
      '{"t":"run","runId":"r","model":"gemini-embedding-001","dimensions":768}\n',
    );
    const lines: string[] = [];
    const code = await runBatchCorpus(
      parseCliArgs([
        "--input",
        `${dir}/in.txt`,
        "--output",
        output,
        "--batch-api",
        "--simulate",
        "--resume",
        "--dimensions",
        "8",
        "--quiet",
      ]),
      { stdout: () => {}, stderr: (line) => void lines.push(line), env: () => undefined },
    );
    assert.equal(code, 2);
    assert.match(
      lines.join("\n"),
      /journal was written for model gemini-embedding-001, dimensions 768/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI --batch-api sends titles as the model wants them and refuses media lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-batch-cli-" });
  try {
    await Deno.writeTextFile(
      `${dir}/in.jsonl`,
      '{"id":"d1","text":"Open Settings.","title":"Help"}\n' +
        '{"id":"d2","text":"No title here."}\n' +
        '{"id":"d3","text":"a picture","file":"cat.png"}\n',
    );
    const code = await runBatchCorpus(
      parseCliArgs([
        "--input",
        `${dir}/in.jsonl`,
        "--output",
        `${dir}/out.jsonl`,
        "--batch-api",
        "--simulate",
        "--simulate-batch-pending",
        "5ms",
        "--simulate-batch-running",
        "5ms",
        "--poll-interval",
        "10ms",
        "--model",
        "gemini-embedding-2",
        "--task-type",
        "RETRIEVAL_DOCUMENT",
        "--dimensions",
        "8",
        "--quiet",
      ]),
      { stdout: () => {}, stderr: () => {}, env: () => undefined },
    );
    assert.equal(code, 3, "one error record");
    const byId = new Map(
      records(await Deno.readTextFile(`${dir}/out.jsonl`)).map((r) => [r.id, r]),
    );
    const v2 = "gemini-embedding-2";
    assert.deepEqual(
      byId.get("d1")?.embedding,
      simulatedEmbedding("title: Help | text: Open Settings.", 8, v2),
    );
    assert.deepEqual(
      byId.get("d2")?.embedding,
      simulatedEmbedding("title: none | text: No title here.", 8, v2),
    );
    assert.equal((byId.get("d3")?.error as { code: string }).code, "UNSUPPORTED_WITH_BATCH_API");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
