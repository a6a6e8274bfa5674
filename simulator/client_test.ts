import assert from "node:assert/strict";
import { simulatorClient } from "./client.ts";
import { createSimulatorHandler, simulatedEmbedding } from "./server.ts";
import { GeminiEmbedder } from "../gemini/embedder.ts";
import { GeminiApiError } from "../errors.ts";
import { FakeTime } from "../internal/fake_time.ts";

Deno.test("simulatorClient returns the simulator's vectors through GeminiEmbedder", async () => {
  const seen: unknown[] = [];
  const handler = createSimulatorHandler({ onBatch: (b) => void seen.push(b) });
  const embedder = new GeminiEmbedder({
    client: simulatorClient(handler),
    outputDimensionality: 5,
    taskType: "RETRIEVAL_QUERY",
  });
  const texts = ["one", "two", "three"];
  // gemini-embedding-2 (the default) gets the task as Google's instruction in the text.
  assert.deepEqual(
    await embedder.embed(texts),
    texts.map((t) => simulatedEmbedding(`task: search result | query: ${t}`, 5)),
  );
  assert.equal(handler.stats.texts, 3);
  assert.equal(seen.length, 1);
});

Deno.test("simulatorClient surfaces simulator errors as the SDK would", async () => {
  const embedder = new GeminiEmbedder({ client: simulatorClient(createSimulatorHandler()) });
  const texts = Array.from({ length: 101 }, (_, i) => `t${i}`);
  const error = await embedder.embed(texts).catch((e) => e);
  assert.ok(error instanceof GeminiApiError);
  assert.equal(error.status, 400);
  assert.equal(error.code, "INVALID_ARGUMENT");
});

Deno.test("simulatorClient runs under fake time and honours latency and abort", async () => {
  using time = new FakeTime();
  const embedder = new GeminiEmbedder({
    client: simulatorClient(createSimulatorHandler({ latencyMs: 200 })),
    outputDimensionality: 2,
  });
  let done = false;
  const call = embedder.embed(["x"]).then((v) => {
    done = true;
    return v;
  });
  await time.tick(199);
  assert.equal(done, false);
  await time.tick(1);
  assert.deepEqual(await call, [simulatedEmbedding("x", 2)]);

  const controller = new AbortController();
  const aborted = embedder.embed(["y"], { signal: controller.signal });
  await time.tick(50);
  const reason = new Error("cancelled by caller");
  controller.abort(reason);
  await assert.rejects(aborted, (e) => e === reason);
});
