import assert from "node:assert/strict";
import { FakeTime } from "../internal/fake_time.ts";
import { createSimulatorHandler } from "../simulator/server.ts";
import { routeFetchTo } from "../simulator/_in_process.ts";
import { GeminiApiError } from "../errors.ts";
import { BatchApiClient, isTransient } from "./client.ts";

const BASE = "http://sim.test";
const SECRET = "AIza-secret-key-123";

Deno.test("BatchApiClient keeps the key out of error messages", async () => {
  using _fetch = routeFetchTo((request) => {
    const key = request.headers.get("x-goog-api-key");
    assert.equal(new URL(request.url).searchParams.get("key"), null, "the key is not in the URL");
    return Promise.resolve(
      Response.json(
        { error: { code: 400, message: `bad key ${key}`, status: "INVALID_ARGUMENT" } },
        {
          status: 400,
        },
      ),
    );
  });
  const client = new BatchApiClient({ apiKey: SECRET, baseUrl: BASE });
  for (
    const call of [() => client.getJob("batches/x"), () => client.createJob("m", "files/f", "d")]
  ) {
    await assert.rejects(call(), (error: Error) => {
      assert.ok(error instanceof GeminiApiError);
      assert.doesNotMatch(error.message, /secret-key/);
      assert.match(error.message, /\[REDACTED\]/);
      return true;
    });
  }
});

Deno.test("BatchApiClient reads a job's state, stats and result file over REST", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({
    batch: { pendingMs: 10, runningMs: 10, errorLineRate: 0.5 },
  });
  using _fetch = routeFetchTo(handler);
  const client = new BatchApiClient({ apiKey: "k", baseUrl: BASE });
  const lines = Array.from(
    { length: 600 },
    (_, i) =>
      `{"key":"${i}","request":{"content":{"parts":[{"text":"t${i}"}]},"outputDimensionality":2}}\n`,
  );
  const file = await client.uploadJobFile(new Blob(lines), "in");
  const job = await client.createJob("gemini-embedding-001", file, "embatch-x-1");
  assert.equal(job.displayName, "embatch-x-1");
  assert.deepEqual((await client.getJob(job.name)).stats, {
    total: 600,
    succeeded: 0,
    failed: 0,
    pending: 600,
  });
  await time.tick(25);
  const done = await client.getJob(job.name);
  assert.equal(done.state, "SUCCEEDED");
  assert.equal(done.stats.succeeded + done.stats.failed, 600);
  assert.ok(done.stats.failed > 0);
  const keys = new Set<string>();
  for await (const line of client.downloadLines(done.resultFile!)) keys.add(JSON.parse(line).key);
  assert.equal(keys.size, 600, "lines split across chunks are whole");
  const found = await client.findJobs("embatch-x-");
  assert.deepEqual([...found.keys()], ["embatch-x-1"]);
  await client.deleteFile(file);
  await client.deleteFile(file); // already gone: not an error
});

Deno.test("BatchApiClient retries a transient failure of a read", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler();
  let failures = 1;
  using _fetch = routeFetchTo((request) =>
    failures-- > 0
      ? Promise.resolve(
        Response.json({ error: { code: 503, message: "x", status: "UNAVAILABLE" } }, {
          status: 503,
        }),
      )
      : handler(request)
  );
  const client = new BatchApiClient({ apiKey: "k", baseUrl: BASE });
  const listed = time.until(client.findJobs("any"), 100);
  assert.equal((await listed).size, 0);
});

Deno.test("isTransient tells which failures may pass", () => {
  const error = (status: number) => GeminiApiError.fromBody(status, "{}");
  assert.equal(isTransient(error(503)), true);
  assert.equal(isTransient(error(429)), true);
  assert.equal(isTransient(error(400)), false);
  assert.equal(isTransient(new TypeError("connection reset")), true);
  assert.equal(isTransient(new Error("other")), false);
  assert.throws(() => new BatchApiClient({ apiKey: "k", attempts: 0 }), RangeError);
});
