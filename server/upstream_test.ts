import assert from "node:assert/strict";
import { geminiUpstream } from "./upstream.ts";
import { normalize } from "../gemini/normalize.ts";
import { type SimulatedBatch, simulatedEmbedding, startSimulator } from "../simulator/mod.ts";

Deno.test("geminiUpstream expresses each group's task per model and normalises", async () => {
  const seen: SimulatedBatch[] = [];
  await using simulator = startSimulator({ onBatch: (batch) => void seen.push(batch) });
  const upstream = geminiUpstream({ apiKey: "server-key", baseUrl: simulator.url });
  const v2 = upstream({ model: "gemini-embedding-2", dimensions: 8, taskType: "RETRIEVAL_QUERY" });
  const v1 = upstream({
    model: "gemini-embedding-001",
    dimensions: 8,
    taskType: "RETRIEVAL_DOCUMENT",
    title: "Help",
  });
  const v2Doc = upstream({
    model: "gemini-embedding-2",
    dimensions: 8,
    taskType: "RETRIEVAL_DOCUMENT",
    title: "Help",
  });
  const query = "task: search result | query: reset password";
  assert.deepEqual(await v2.embed(["reset password"]), [
    simulatedEmbedding(query, 8, "gemini-embedding-2"),
  ]);
  const [document] = await v1.embed(["Open Settings."]);
  assert.deepEqual(
    document,
    normalize(simulatedEmbedding("Open Settings.", 8, "gemini-embedding-001")),
    "001's reduced sizes come back unnormalised; the server answers unit vectors",
  );
  await v2Doc.embed(["Open Settings."]);
  assert.deepEqual(seen.map((b) => [b.model, b.requests[0]]), [
    ["gemini-embedding-2", { text: query, dimensions: 8 }],
    ["gemini-embedding-001", {
      text: "Open Settings.",
      dimensions: 8,
      taskType: "RETRIEVAL_DOCUMENT",
      title: "Help",
    }],
    ["gemini-embedding-2", { text: "title: Help | text: Open Settings.", dimensions: 8 }],
  ]);
  assert.throws(() => geminiUpstream({ apiKey: "" }), TypeError);
});

Deno.test("geminiUpstream with normalize: false answers the values as the API sent them", async () => {
  await using simulator = startSimulator();
  const upstream = geminiUpstream({ apiKey: "k", baseUrl: simulator.url, normalize: false });
  const embedder = upstream({ model: "gemini-embedding-001", dimensions: 8 });
  assert.deepEqual(await embedder.embed(["hi"]), [
    simulatedEmbedding("hi", 8, "gemini-embedding-001"),
  ]);
});
