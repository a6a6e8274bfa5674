import assert from "node:assert/strict";
import { FakeTime } from "../internal/fake_time.ts";
import { normalize } from "../gemini/normalize.ts";
import {
  createSimulatorHandler,
  simulatedEmbedding,
  type SimulatorHandler,
  type SimulatorHandlerOptions,
} from "../simulator/server.ts";
import { routeFetchTo } from "../simulator/_in_process.ts";
import { cancelBatchJobs } from "./cancel_jobs.ts";
import {
  type BatchInput,
  type BatchProgress,
  type BatchResult,
  embedWithBatchApi,
  type EmbedWithBatchApiOptions,
} from "./embed_with_batch_api.ts";

const BASE = "http://sim.test";
const MODEL = "gemini-embedding-001";

function corpus(count: number): BatchInput[] {
  return Array.from(
    { length: count },
    (_, i) => ({ id: `doc-${i}`, text: `document number ${i}` }),
  );
}

function options(extra: Partial<EmbedWithBatchApiOptions> = {}): EmbedWithBatchApiOptions {
  return {
    apiKey: "key",
    baseUrl: BASE,
    model: MODEL,
    dimensions: 4,
    pollInterval: 1000,
    jobMaxTokens: 60,
    maxEnqueuedTokens: 200,
    random: () => 0.5,
    ...extra,
  };
}

function simulator(batch: SimulatorHandlerOptions["batch"] = {}): SimulatorHandler {
  return createSimulatorHandler({
    apiKeys: ["key"],
    batch: { pendingMs: 2000, runningMs: 3000, ...batch },
  });
}

async function collect(
  time: FakeTime,
  inputs: BatchInput[],
  opts: EmbedWithBatchApiOptions,
): Promise<BatchResult[]> {
  const results: BatchResult[] = [];
  const done = (async () => {
    for await (const result of embedWithBatchApi(inputs, opts)) results.push(result);
  })();
  await time.until(done, 250, 48 * 3600_000);
  return results;
}

function assertOnePerInput(results: BatchResult[], inputs: BatchInput[]): void {
  assert.deepEqual(results.map((r) => r.id).sort(), inputs.map((i) => i.id).sort());
}

Deno.test("embedWithBatchApi runs many jobs and matches shuffled results by key", async () => {
  using time = new FakeTime();
  const handler = simulator();
  using _fetch = routeFetchTo(handler);
  const inputs = corpus(120);
  let last: BatchProgress | undefined;
  const results = await collect(time, inputs, options({ onProgress: (p) => void (last = p) }));
  assertOnePerInput(results, inputs);
  const byId = new Map(inputs.map((input) => [input.id, input.text]));
  for (const result of results) {
    assert.ok("embedding" in result, JSON.stringify(result));
    // 001 at 4 values comes back shorter than unit length; results are normalised.
    assert.deepEqual(
      result.embedding,
      normalize(simulatedEmbedding(byId.get(result.id)!, 4, MODEL)),
    );
  }
  const stats = handler.batch.stats;
  assert.ok(stats.jobsCreated >= 10, `${stats.jobsCreated} jobs`);
  assert.equal(stats.duplicateJobs, 0);
  assert.ok(stats.peakEnqueuedTokens <= 250, `peak enqueued ${stats.peakEnqueuedTokens}`);
  assert.equal(
    stats.filesDeleted,
    stats.filesUploaded + stats.jobsCreated,
    "inputs and results deleted",
  );
  assert.notDeepEqual(
    results.map((r) => r.id),
    inputs.map((i) => i.id),
    "results in job order, shuffled",
  );
  assert.equal(last?.embedded, 120);
  assert.equal(last?.jobsCreated, stats.jobsCreated);
  assert.ok(last!.tokens > 0);
});

Deno.test("embedWithBatchApi retries error lines in later jobs, then reports them", async (t) => {
  await t.step("retried until they succeed", async () => {
    using time = new FakeTime();
    const handler = simulator({ errorLineRate: 0.2 });
    using _fetch = routeFetchTo(handler);
    const inputs = corpus(60);
    let last: BatchProgress | undefined;
    const results = await collect(
      time,
      inputs,
      options({ maxLineAttempts: 10, onProgress: (p) => void (last = p) }),
    );
    assertOnePerInput(results, inputs);
    assert.ok(results.every((r) => "embedding" in r));
    assert.ok(handler.batch.stats.errorLines > 0);
    assert.equal(last?.retried, handler.batch.stats.errorLines);
  });
  await t.step("an error record with the API's code after the last attempt", async () => {
    using time = new FakeTime();
    using _fetch = routeFetchTo(simulator({ errorLineRate: 1 }));
    const inputs = corpus(5);
    const results = await collect(time, inputs, options({ maxLineAttempts: 2 }));
    assertOnePerInput(results, inputs);
    for (const result of results) {
      assert.ok("error" in result);
      assert.deepEqual(result.error, {
        code: "INTERNAL",
        message: "Internal error encountered.",
        status: 500,
        attempts: 2,
      });
    }
  });
});

Deno.test("embedWithBatchApi resubmits the inputs of a failed or expired job", async (t) => {
  await t.step("resubmitted", async () => {
    using time = new FakeTime();
    const handler = simulator({ failJobs: [1], expireJobs: [2] });
    using _fetch = routeFetchTo(handler);
    const inputs = corpus(40);
    let last: BatchProgress | undefined;
    const results = await collect(time, inputs, options({ onProgress: (p) => void (last = p) }));
    assertOnePerInput(results, inputs);
    assert.ok(results.every((r) => "embedding" in r));
    assert.equal(last?.jobsLost, 2);
  });
  await t.step("reported after the last attempt", async () => {
    using time = new FakeTime();
    using _fetch = routeFetchTo(simulator({ failJobs: [1] }));
    const inputs = corpus(3);
    const results = await collect(time, inputs, options({ maxJobAttempts: 1 }));
    assert.deepEqual(
      results.map((r) => "error" in r && r.error.code),
      ["JOB_FAILED", "JOB_FAILED", "JOB_FAILED"],
    );
  });
});

Deno.test("embedWithBatchApi waits out a 429 on create at the enqueued-token cap", async () => {
  using time = new FakeTime();
  const handler = simulator({ maxEnqueuedTokens: 40 });
  using _fetch = routeFetchTo(handler);
  const inputs = corpus(50);
  let last: BatchProgress | undefined;
  const results = await collect(
    time,
    inputs,
    options({ maxEnqueuedTokens: 1000, onProgress: (p) => void (last = p) }),
  );
  assertOnePerInput(results, inputs);
  assert.ok(handler.batch.stats.createsRefused > 0);
  assert.equal(last?.createsRefused, handler.batch.stats.createsRefused);
  assert.ok(handler.batch.stats.peakEnqueuedTokens <= 40);
});

Deno.test("embedWithBatchApi rejects vectors of the wrong length", async () => {
  using time = new FakeTime();
  const handler = simulator();
  // A stand-in that cuts doc-1's vector to 3 values in every result file.
  using _fetch = routeFetchTo(async (request) => {
    const response = await handler(request);
    if (!new URL(request.url).pathname.endsWith(":download")) return response;
    const lines = (await response.text()).trim().split("\n").map((line) => {
      const parsed = JSON.parse(line);
      if (parsed.key === "1") parsed.response.embedding.values.pop();
      return JSON.stringify(parsed);
    });
    return new Response(lines.join("\n") + "\n");
  });
  const inputs = corpus(3);
  const results = await collect(time, inputs, options({ maxLineAttempts: 2 }));
  assertOnePerInput(results, inputs);
  const bad = results.find((r) => r.id === "doc-1")!;
  assert.ok("error" in bad);
  assert.equal(bad.error.code, "WRONG_DIMENSIONS");
  assert.match(bad.error.message, /3 values, expected 4/);
  assert.ok(results.filter((r) => "embedding" in r).length === 2);
});

Deno.test("embedWithBatchApi scales vectors to unit length unless told not to", async (t) => {
  // gemini-embedding-001's reduced vectors (and the simulator's) are not unit length.
  const raw = simulatedEmbedding("document number 0", 4, MODEL);
  assert.ok(Math.abs(Math.hypot(...raw) - 1) > 1e-3);
  for (const normalized of [true, false]) {
    await t.step(`normalize: ${normalized}`, async () => {
      using time = new FakeTime();
      using _fetch = routeFetchTo(simulator());
      const [result] = await collect(time, corpus(1), options({ normalize: normalized }));
      assert.ok(result !== undefined && "embedding" in result);
      assert.deepEqual(result.embedding, normalized ? normalize(raw) : raw);
    });
  }
});

Deno.test("embedWithBatchApi cancels and reports a job past the job deadline", async () => {
  using time = new FakeTime();
  const handler = simulator({ pendingMs: 10 * 3600_000 });
  using _fetch = routeFetchTo(handler);
  const inputs = corpus(2);
  const results = await collect(time, inputs, options({ jobDeadline: 60_000, maxJobAttempts: 1 }));
  assert.deepEqual(results.map((r) => "error" in r && r.error.code), [
    "DEADLINE_EXCEEDED",
    "DEADLINE_EXCEEDED",
  ]);
  assert.equal(handler.batch.stats.jobsCancelled, 1);
});

Deno.test("embedWithBatchApi finds a job created just before a kill instead of creating it twice", async () => {
  using time = new FakeTime();
  const journal = await Deno.makeTempFile({ suffix: ".journal" });
  try {
    const handler = simulator();
    const inputs = corpus(30);
    // First run: the second create reaches the server, then the process "dies"
    // before it can record the job: the answer never arrives.
    let creates = 0;
    const killed = new Error("killed");
    {
      using _fetch = routeFetchTo(async (request) => {
        const response = await handler(request);
        if (request.url.endsWith(":asyncBatchEmbedContent") && ++creates === 2) throw killed;
        return response;
      });
      await assert.rejects(
        collect(time, inputs, options({ journal })),
        (error) => error === killed,
      );
    }
    assert.equal(handler.batch.stats.jobsCreated, 2);
    // Second run, same journal and inputs: reattaches to both jobs.
    using _fetch = routeFetchTo(handler);
    let last: BatchProgress | undefined;
    const results = await collect(
      time,
      inputs,
      options({ journal, onProgress: (p) => void (last = p) }),
    );
    assertOnePerInput(results, inputs);
    assert.equal(last?.jobsReattached, 2);
    assert.equal(handler.batch.stats.duplicateJobs, 0);
    assert.equal(handler.batch.stats.linesEmbedded, 30, "every text embedded once");
  } finally {
    await Deno.remove(journal);
  }
});

Deno.test("embedWithBatchApi uses an upload that finished just before a kill instead of uploading again", async () => {
  using time = new FakeTime();
  const journal = await Deno.makeTempFile({ suffix: ".journal" });
  try {
    const handler = simulator();
    const inputs = corpus(30);
    const killed = new Error("killed");
    {
      using _fetch = routeFetchTo(async (request) => {
        const response = await handler(request);
        if (response.headers.get("x-goog-upload-status") === "final") throw killed;
        return response;
      });
      await assert.rejects(
        collect(time, inputs, options({ journal })),
        (error) => error === killed,
      );
    }
    assert.equal(handler.batch.stats.filesUploaded, 1);
    using _fetch = routeFetchTo(handler);
    const results = await collect(time, inputs, options({ journal }));
    assertOnePerInput(results, inputs);
    const stats = handler.batch.stats;
    assert.equal(stats.filesUploaded, stats.jobsCreated, "one upload per job");
    assert.equal(stats.filesDeleted, stats.filesUploaded + stats.jobsCreated);
  } finally {
    await Deno.remove(journal);
  }
});

Deno.test("embedWithBatchApi detaches on abort and a resumed run writes the rest once", async () => {
  using time = new FakeTime();
  const journal = await Deno.makeTempFile({ suffix: ".journal" });
  try {
    const handler = simulator();
    using _fetch = routeFetchTo(handler);
    const inputs = corpus(60);
    const controller = new AbortController();
    const first: BatchResult[] = [];
    const run = (async () => {
      for await (
        const result of embedWithBatchApi(inputs, options({ journal, signal: controller.signal }))
      ) {
        first.push(result);
        if (first.length === 10) controller.abort(new Error("detached"));
      }
    })();
    await assert.rejects(time.until(run, 250, 48 * 3600_000), /detached/);
    const createdBefore = handler.batch.stats.jobsCreated;
    assert.ok(first.length >= 10 && first.length < 60);
    const second = await collect(time, inputs, options({ journal }));
    // Results of a job the first run had not finished consuming come again.
    const firstIds = new Set(first.map((r) => r.id));
    const merged = [...first, ...second.filter((r) => !firstIds.has(r.id))];
    assertOnePerInput(merged, inputs);
    assert.equal(handler.batch.stats.duplicateJobs, 0);
    assert.ok(handler.batch.stats.jobsCreated > createdBefore);
  } finally {
    await Deno.remove(journal);
  }
});

Deno.test("cancelBatchJobs cancels a run's unfinished jobs; a resumed run submits their inputs again", async () => {
  using time = new FakeTime();
  const journal = await Deno.makeTempFile({ suffix: ".journal" });
  try {
    const handler = simulator({ pendingMs: 3600_000 });
    using _fetch = routeFetchTo(handler);
    const inputs = corpus(20);
    const controller = new AbortController();
    const run = (async () => {
      for await (
        const _ of embedWithBatchApi(inputs, options({ journal, signal: controller.signal }))
      ) {
        // none arrive while the jobs are pending
      }
    })();
    run.catch(() => {});
    for (let i = 0; i < 100_000 && handler.batch.stats.jobsCreated < 2; i++) await time.tick(10);
    controller.abort(new Error("detached"));
    await assert.rejects(time.until(run, 250, 48 * 3600_000), /detached/);
    const created = handler.batch.stats.jobsCreated;
    assert.ok(created > 0);
    const result = await time.until(cancelBatchJobs({ apiKey: "key", baseUrl: BASE, journal }));
    assert.deepEqual(result, { cancelled: created, notCreated: 0 });
    assert.equal(handler.batch.stats.jobsCancelled, created);
    const again = await time.until(cancelBatchJobs({ apiKey: "key", baseUrl: BASE, journal }));
    assert.deepEqual(again, { cancelled: 0, notCreated: 0 });
    const results = await collect(time, inputs, options({ journal }));
    assertOnePerInput(results, inputs);
    assert.ok(results.every((r) => "embedding" in r));
    assert.ok(handler.batch.stats.jobsCreated > created);
  } finally {
    await Deno.remove(journal);
  }
});

Deno.test("embedWithBatchApi sends a task type the way the model wants it", async (t) => {
  for (
    const [model, expected] of [
      ["gemini-embedding-2", "task: search result | query: document number 0"],
      ["gemini-embedding-001", "document number 0"],
    ] as const
  ) {
    await t.step(model, async () => {
      using time = new FakeTime();
      const sent: unknown[] = [];
      const handler = simulator();
      using _fetch = routeFetchTo(async (request) => {
        if (new URL(request.url).searchParams.has("upload_id")) {
          sent.push(...(await request.clone().text()).trim().split("\n").map((l) => JSON.parse(l)));
        }
        return handler(request);
      });
      const results = await collect(
        time,
        corpus(1),
        options({ model, taskType: "RETRIEVAL_QUERY" }),
      );
      assert.deepEqual(
        results.map((r) => "embedding" in r && r.embedding),
        [normalize(simulatedEmbedding(expected, 4, model))], // normalised unless normalize: false
      );
      const request = (sent[0] as { request: Record<string, unknown> }).request;
      assert.equal(
        request.taskType,
        model === "gemini-embedding-001" ? "RETRIEVAL_QUERY" : undefined,
      );
    });
  }
});

Deno.test("embedWithBatchApi refuses a journal of another model, and bad options", async () => {
  const journal = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(journal, '{"t":"run","runId":"x","model":"other-model"}\n');
    await assert.rejects(
      embedWithBatchApi([], { apiKey: "key", journal }).next(),
      { name: "BatchJournalError" },
    );
    await assert.rejects(
      embedWithBatchApi([], { apiKey: "key", jobMaxTokens: 0 }).next(),
      RangeError,
    );
  } finally {
    await Deno.remove(journal);
  }
});
