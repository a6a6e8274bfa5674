import assert from "node:assert/strict";
import { GoogleGenAI } from "@google/genai";
import { FakeTime } from "../internal/fake_time.ts";
import { createSimulatorHandler, simulatedEmbedding } from "./server.ts";
import type { SimulatorHandlerOptions } from "./server.ts";
import { BatchSimulator } from "./batch.ts";
import { routeFetchTo } from "./_in_process.ts";

const BASE = "http://sim.test";
const MODEL = "gemini-embedding-001";

function setup(options: SimulatorHandlerOptions = {}, apiVersion?: string) {
  const handler = createSimulatorHandler({ apiKeys: ["key"], ...options });
  const ai = new GoogleGenAI({
    apiKey: "key",
    ...(apiVersion !== undefined && { apiVersion }),
    httpOptions: { baseUrl: BASE },
  });
  return { handler, ai, fetchStub: routeFetchTo((request) => handler(request)) };
}

function jobLines(count: number, dimensions = 4): string {
  let text = "";
  for (let i = 0; i < count; i++) {
    text += JSON.stringify({
      key: `k${i}`,
      request: { content: { parts: [{ text: `text ${i}` }] }, outputDimensionality: dimensions },
    }) + "\n";
  }
  return text;
}

async function quiet<T>(work: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await work();
  } finally {
    console.warn = warn;
  }
}

async function download(path: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${BASE}${path}`, { headers: { "x-goog-api-key": "key" } });
  assert.equal(response.status, 200);
  return (await response.text()).trim().split("\n").map((line) => JSON.parse(line));
}

Deno.test("Batch simulator runs a file job through the real SDK: upload, create, poll, download", async (t) => {
  for (const apiVersion of ["v1beta", "v1"]) {
    await t.step(apiVersion, async () => {
      using time = new FakeTime();
      const { handler, ai, fetchStub } = setup(
        { batch: { pendingMs: 100, runningMs: 100 } },
        apiVersion,
      );
      using _fetch = fetchStub;
      const file = await ai.files.upload({
        file: new Blob([jobLines(50)]),
        config: { mimeType: "jsonl", displayName: "input" },
      });
      assert.match(file.name!, /^files\/[a-z0-9]+$/);
      assert.equal(file.sizeBytes, String(jobLines(50).length));
      const job = await quiet(() =>
        ai.batches.createEmbeddings({
          model: MODEL,
          src: { fileName: file.name! },
          config: { displayName: "job-1" },
        })
      );
      assert.equal(job.state, "JOB_STATE_PENDING");
      assert.equal(job.displayName, "job-1");
      await time.tick(150);
      assert.equal((await ai.batches.get({ name: job.name! })).state, "JOB_STATE_RUNNING");
      await time.tick(100);
      const done = await ai.batches.get({ name: job.name! });
      assert.equal(done.state, "JOB_STATE_SUCCEEDED");
      const resultFile = done.dest?.fileName;
      assert.match(resultFile!, /^files\/batch-/);
      const lines = await download(`/${apiVersion}/${resultFile}:download?alt=media`);
      assert.deepEqual(
        await download(`/download/${apiVersion}/${resultFile}:download?alt=media`),
        lines,
      );
      const keys = lines.map((line) => line.key);
      assert.equal(new Set(keys).size, 50);
      assert.notDeepEqual(keys, Array.from({ length: 50 }, (_, i) => `k${i}`), "shuffled");
      for (const line of lines) {
        const i = Number(String(line.key).slice(1));
        assert.deepEqual(line.response, {
          embedding: { values: simulatedEmbedding(`text ${i}`, 4, MODEL) },
          tokenCount: "2",
        });
      }
      assert.equal(handler.batch.stats.linesEmbedded, 50);
    });
  }
});

Deno.test("Batch simulator uploads in 8 MiB chunks and checks offsets", async () => {
  const { ai, fetchStub, handler } = setup();
  using _fetch = fetchStub;
  const big = new Uint8Array(9 * 1024 * 1024).fill(0x20);
  const file = await ai.files.upload({ file: new Blob([big]), config: { mimeType: "jsonl" } });
  assert.equal(file.sizeBytes, String(big.length));
  assert.equal(handler.batch.stats.filesUploaded, 1);
  const start = await handler(
    new Request(`${BASE}/upload/v1beta/files`, {
      method: "POST",
      headers: { "x-goog-api-key": "key", "x-goog-upload-command": "start" },
      body: JSON.stringify({ file: { mime_type: "jsonl" } }),
    }),
  );
  const wrongOffset = await handler(
    new Request(start.headers.get("x-goog-upload-url")!, {
      method: "POST",
      headers: {
        "x-goog-api-key": "key",
        "x-goog-upload-command": "upload",
        "x-goog-upload-offset": "5",
      },
      body: "abc",
    }),
  );
  assert.equal(wrongOffset.status, 400);
});

Deno.test("Batch simulator upload works when the SDK rewrites the upload URL's host", async () => {
  const handler = createSimulatorHandler();
  const hosts: string[] = [];
  using _fetch = routeFetchTo(async (request) => {
    hosts.push(new URL(request.url).host);
    const response = await handler(request);
    const url = response.headers.get("x-goog-upload-url");
    if (url === null) return response;
    // As Google answers: an absolute URL on Google's own host.
    const google = new URL(url);
    google.protocol = "https:";
    google.host = "generativelanguage.googleapis.com";
    const headers = new Headers(response.headers);
    headers.set("x-goog-upload-url", google.toString());
    return new Response(response.body, { status: response.status, headers });
  });
  const ai = new GoogleGenAI({ apiKey: "key", httpOptions: { baseUrl: BASE } });
  const file = await ai.files.upload({ file: new Blob(["x\n"]), config: { mimeType: "jsonl" } });
  assert.match(file.name!, /^files\//);
  assert.deepEqual(hosts, ["sim.test", "sim.test"], "the chunk went to the base URL's host");
});

Deno.test("Batch simulator answers an inline job with inlined responses in input order", async () => {
  using time = new FakeTime();
  const { ai, fetchStub } = setup({ batch: { pendingMs: 10, runningMs: 10 } });
  using _fetch = fetchStub;
  const job = await quiet(() =>
    ai.batches.createEmbeddings({
      model: MODEL,
      src: {
        inlinedRequests: { contents: ["hello", "world"], config: { outputDimensionality: 3 } },
      },
    })
  );
  await time.tick(25);
  const done = await ai.batches.get({ name: job.name! });
  assert.equal(done.state, "JOB_STATE_SUCCEEDED");
  assert.deepEqual(
    done.dest?.inlinedEmbedContentResponses?.map((item) => item.response?.embedding?.values),
    [simulatedEmbedding("hello", 3, MODEL), simulatedEmbedding("world", 3, MODEL)],
  );
});

Deno.test("Batch simulator echoes an inline request's metadata with its response", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ batch: { pendingMs: 0, runningMs: 0 } });
  const call = (path: string, init: RequestInit = {}) =>
    handler(new Request(`${BASE}${path}`, { ...init, headers: { "x-goog-api-key": "k" } }));
  const created = await (await call(`/v1beta/models/${MODEL}:asyncBatchEmbedContent`, {
    method: "POST",
    body: JSON.stringify({
      batch: {
        inputConfig: {
          requests: {
            requests: [
              { request: { content: { parts: [{ text: "a" }] } }, metadata: { key: "sha:1" } },
              { request: { content: { parts: [{ text: "" }] } }, metadata: { key: "sha:2" } },
            ],
          },
        },
      },
    }),
  })).json();
  await time.tick(1);
  const job = await (await call(`/v1beta/${created.name}`)).json();
  const items = job.response.inlinedResponses.inlinedResponses;
  assert.deepEqual(items[0].metadata, { key: "sha:1" });
  assert.equal(items[0].response.embedding.values.length, 3072);
  assert.deepEqual(items[1], {
    error: {
      code: 400,
      message: "EmbedContentRequest.content contains an empty Part.",
      status: "INVALID_ARGUMENT",
    },
    metadata: { key: "sha:2" },
  });
});

Deno.test("Batch simulator lists jobs over pages, cancels and deletes them", async () => {
  using _time = new FakeTime();
  const { ai, fetchStub, handler } = setup();
  using _fetch = fetchStub;
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    const job = await quiet(() =>
      ai.batches.createEmbeddings({
        model: MODEL,
        src: { inlinedRequests: { contents: [`t${i}`] } },
        config: { displayName: `job-${i}` },
      })
    );
    names.push(job.name!);
  }
  const listed: string[] = [];
  for await (const job of await ai.batches.list({ config: { pageSize: 2 } })) {
    listed.push(job.displayName!);
  }
  assert.deepEqual(listed, ["job-0", "job-1", "job-2"]);
  await ai.batches.cancel({ name: names[0]! });
  assert.equal((await ai.batches.get({ name: names[0]! })).state, "JOB_STATE_CANCELLED");
  assert.equal(handler.batch.stats.jobsCancelled, 1);
  await ai.batches.delete({ name: names[1]! });
  await assert.rejects(ai.batches.get({ name: names[1]! }), /NOT_FOUND/);
});

Deno.test("Batch simulator gets and deletes files", async () => {
  const { ai, fetchStub } = setup();
  using _fetch = fetchStub;
  const file = await ai.files.upload({ file: new Blob(["x\n"]), config: { mimeType: "jsonl" } });
  assert.equal((await ai.files.get({ name: file.name! })).state, "ACTIVE");
  await ai.files.delete({ name: file.name! });
  await assert.rejects(ai.files.get({ name: file.name! }), /PERMISSION_DENIED/);
});

Deno.test("Batch simulator accepts snake_case and answers both metadata and response", async () => {
  using time = new FakeTime();
  const { handler, ai, fetchStub } = setup({ batch: { pendingMs: 0, runningMs: 0 } });
  using _fetch = fetchStub;
  const file = await ai.files.upload({
    file: new Blob([jobLines(2)]),
    config: { mimeType: "jsonl" },
  });
  const response = await handler(
    new Request(`${BASE}/v1beta/models/${MODEL}:asyncBatchEmbedContent`, {
      method: "POST",
      headers: { "x-goog-api-key": "key" },
      body: JSON.stringify({
        batch: { display_name: "snake", input_config: { file_name: file.name } },
      }),
    }),
  );
  const created = await response.json();
  assert.equal(created.metadata.displayName, "snake");
  await time.tick(1);
  const operation = await (await handler(
    new Request(`${BASE}/v1beta/${created.name}`, { headers: { "x-goog-api-key": "key" } }),
  )).json();
  assert.equal(operation.done, true);
  assert.equal(operation.metadata.state, "BATCH_STATE_SUCCEEDED");
  assert.equal(operation.response.responsesFile, operation.metadata.output.responsesFile);
  assert.deepEqual(operation.metadata.batchStats, {
    requestCount: "2",
    successfulRequestCount: "2",
  });
});

Deno.test("Batch simulator injects faults on demand", async (t) => {
  await t.step("a failed and an expired job", async () => {
    using time = new FakeTime();
    const { handler, ai, fetchStub } = setup({
      batch: { pendingMs: 10, runningMs: 10, failJobs: [1], expireJobs: [2] },
    });
    using _fetch = fetchStub;
    const create = () =>
      quiet(() =>
        ai.batches.createEmbeddings({ model: MODEL, src: { inlinedRequests: { contents: ["a"] } } })
      );
    const failed = await create();
    const expired = await create();
    await time.tick(30);
    assert.equal((await ai.batches.get({ name: failed.name! })).state, "JOB_STATE_FAILED");
    assert.equal((await ai.batches.get({ name: expired.name! })).state, "JOB_STATE_EXPIRED");
    const raw = await (await handler(
      new Request(`${BASE}/v1beta/${failed.name}`, { headers: { "x-goog-api-key": "key" } }),
    )).json();
    assert.equal(raw.error.code, 13);
  });
  await t.step("error lines at a seeded rate, drawn again in another job", async () => {
    using time = new FakeTime();
    const { handler, ai, fetchStub } = setup({
      batch: { pendingMs: 0, runningMs: 0, errorLineRate: 0.3 },
    });
    using _fetch = fetchStub;
    const run = async () => {
      const file = await ai.files.upload({
        file: new Blob([jobLines(200)]),
        config: { mimeType: "jsonl" },
      });
      const job = await quiet(() =>
        ai.batches.createEmbeddings({ model: MODEL, src: { fileName: file.name! } })
      );
      await time.tick(1);
      const done = await ai.batches.get({ name: job.name! });
      const lines = await download(`/v1/${done.dest!.fileName}:download?alt=media`);
      return lines.filter((line) => "error" in line).map((line) => line.key);
    };
    const first = await run();
    const second = await run();
    assert.ok(first.length > 30 && first.length < 90, `${first.length} error lines`);
    assert.notDeepEqual(new Set(first), new Set(second));
    assert.equal(handler.batch.stats.errorLines, first.length + second.length);
    assert.equal(handler.batch.stats.duplicateJobs, 1, "the same bytes twice count as a duplicate");
  });
  await t.step("a create 429 at the enqueued-token cap, admitted once a job ends", async () => {
    using time = new FakeTime();
    const { ai, fetchStub } = setup({
      batch: { pendingMs: 10, runningMs: 10, maxEnqueuedTokens: 3 },
    });
    using _fetch = fetchStub;
    const create = () =>
      quiet(() =>
        ai.batches.createEmbeddings({
          model: MODEL,
          src: { inlinedRequests: { contents: ["abcdefgh"] } },
        })
      );
    await create();
    await assert.rejects(create(), (error: Error) => /RESOURCE_EXHAUSTED/.test(error.message));
    await time.tick(25);
    await create();
  });
});

Deno.test("Batch simulator answers a bad line with an error line, not a failed create", async () => {
  using time = new FakeTime();
  const { ai, fetchStub } = setup({ batch: { pendingMs: 0, runningMs: 0 } });
  using _fetch = fetchStub;
  const body = '{"key":"ok","request":{"content":{"parts":[{"text":"a"}]}}}\n' +
    '{"key":"empty","request":{"content":{"parts":[{"text":""}]}}}\n';
  const file = await ai.files.upload({ file: new Blob([body]), config: { mimeType: "jsonl" } });
  const job = await quiet(() =>
    ai.batches.createEmbeddings({ model: MODEL, src: { fileName: file.name! } })
  );
  await time.tick(1);
  const done = await ai.batches.get({ name: job.name! });
  const lines = await download(`/v1/${done.dest!.fileName}:download?alt=media`);
  const empty = lines.find((line) => line.key === "empty")!;
  assert.deepEqual(empty.error, {
    code: 400,
    message: "EmbedContentRequest.content contains an empty Part.",
    status: "INVALID_ARGUMENT",
  });
});

Deno.test("Batch simulator rejects a bad option with RangeError", () => {
  assert.throws(() => new BatchSimulator({ errorLineRate: 2 }, () => []), RangeError);
  assert.throws(() => new BatchSimulator({ pendingMs: -1 }, () => []), RangeError);
  assert.throws(() => new BatchSimulator({ maxEnqueuedTokens: 0 }, () => []), RangeError);
});

Deno.test("Batch simulator routes need an API key", async () => {
  const handler = createSimulatorHandler({ apiKeys: ["key"] });
  const response = await handler(new Request(`${BASE}/v1beta/batches`));
  assert.equal(response.status, 403);
});
