import assert from "node:assert/strict";
import { createSimulatorHandler } from "../simulator/server.ts";
import { routeFetchTo } from "../simulator/_in_process.ts";
import { BatchApiClient } from "./client.ts";
import { cancelBatchJobs } from "./cancel_jobs.ts";
import { Journal } from "./journal.ts";

const BASE = "http://sim.test";

Deno.test("cancelBatchJobs finds and cancels a job whose create was never recorded", async () => {
  const handler = createSimulatorHandler({ batch: { pendingMs: 3_600_000 } });
  using _fetch = routeFetchTo(handler);
  const client = new BatchApiClient({ apiKey: "k", baseUrl: BASE });
  const file = await client.uploadJobFile(
    new Blob(['{"key":"0","request":{"content":{"parts":[{"text":"x"}]}}}\n']),
    "in",
  );
  await client.createJob("gemini-embedding-001", file, "embatch-run1-1");
  const path = await Deno.makeTempFile();
  try {
    {
      await using journal = await Journal.open(path);
      await journal.append({ t: "run", runId: "run1", model: "gemini-embedding-001" });
      await journal.append({
        t: "job",
        seq: 1,
        displayName: "embatch-run1-1",
        members: [[0, 1, 0, 0]],
        idsHash: "h",
      });
      await journal.append({ t: "file", seq: 1, file });
      await journal.append({
        t: "job",
        seq: 2,
        displayName: "embatch-run1-2",
        members: [[1, 1, 0, 0]],
        idsHash: "h",
      });
    }
    const result = await cancelBatchJobs({ apiKey: "k", baseUrl: BASE, journal: path });
    assert.deepEqual(result, { cancelled: 1, notCreated: 1 });
    assert.equal(handler.batch.stats.jobsCancelled, 1);
    await using replayed = await Journal.open(path);
    assert.equal(replayed.state?.open.size, 0);
    assert.deepEqual(
      [...replayed.state!.retry.keys()],
      [0, 1],
      "their inputs are retried on resume",
    );
  } finally {
    await Deno.remove(path);
  }
});
