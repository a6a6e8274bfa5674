import assert from "node:assert/strict";
import { geminiUpstream } from "./upstream.ts";
import { type SimulatedBatch, simulatedEmbedding, startSimulator } from "../simulator/mod.ts";

Deno.test("geminiUpstream forwards each group's fields as sent, texts unchanged", async () => {
  const seen: SimulatedBatch[] = [];
  await using simulator = startSimulator({ onBatch: (batch) => void seen.push(batch) });
  const upstream = geminiUpstream({ apiKey: "server-key", baseUrl: simulator.url });
  const v2 = upstream({ model: "gemini-embedding-2", dimensions: 8, taskType: "RETRIEVAL_QUERY" });
  const v1 = upstream({
    model: "gemini-embedding-001",
    taskType: "RETRIEVAL_DOCUMENT",
    title: "Help",
  });
  assert.deepEqual(await v2.embed(["reset password"]), [
    simulatedEmbedding("reset password", 8, "gemini-embedding-2"),
  ]);
  await v1.embed(["Open Settings."]);
  assert.deepEqual(seen.map((b) => [b.model, b.requests[0]]), [
    ["gemini-embedding-2", { text: "reset password", dimensions: 8, taskType: "RETRIEVAL_QUERY" }],
    ["gemini-embedding-001", {
      text: "Open Settings.",
      dimensions: 3072,
      taskType: "RETRIEVAL_DOCUMENT",
      title: "Help",
    }],
  ]);
  assert.throws(() => geminiUpstream({ apiKey: "" }), TypeError);
});
