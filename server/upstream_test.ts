import assert from "node:assert/strict";
import { geminiUpstream } from "./upstream.ts";
import { type SimulatedBatch, startSimulator } from "../simulator/mod.ts";

Deno.test("geminiUpstream sends a group's title as its model takes it: in the text for -2, a field for 001", async () => {
  const batches: SimulatedBatch[] = [];
  await using simulator = startSimulator({ onBatch: (b) => void batches.push(b) });
  const upstream = geminiUpstream({ apiKey: "server-key", baseUrl: simulator.url });
  const group = { taskType: "RETRIEVAL_DOCUMENT" as const, title: "Help", dimensions: 4 };
  await upstream({ model: "gemini-embedding-2", ...group }).embed(["d"]);
  await upstream({ model: "gemini-embedding-001", ...group }).embed(["d"]);
  assert.deepEqual(batches.map((b) => b.requests), [
    [{ text: "title: Help | text: d", dimensions: 4 }],
    [{ text: "d", dimensions: 4, taskType: "RETRIEVAL_DOCUMENT", title: "Help" }],
  ]);
});
