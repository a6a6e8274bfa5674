import assert from "node:assert/strict";
import {
  createSimulatorHandler,
  GEMINI_LATENCY,
  SimulatedConnectionDrop,
  simulatedEmbedding,
  type SimulatedFaultKind,
  type SimulatorFaults,
  type SimulatorHandler,
  startSimulator,
} from "./server.ts";
import { simulatorClient } from "./client.ts";
import { GeminiEmbedder } from "../gemini/embedder.ts";
import { EmbeddingCountError, GeminiApiError } from "../errors.ts";
import { FakeTime } from "../internal/fake_time.ts";

const MODEL = "gemini-embedding-001";
const ENDPOINT = `http://simulator/v1/models/${MODEL}:batchEmbedContents`;

function call(handler: SimulatorHandler, texts: string[], signal?: AbortSignal) {
  return handler(
    new Request(ENDPOINT, {
      method: "POST",
      headers: { "x-goog-api-key": "k" },
      body: JSON.stringify({
        requests: texts.map((text) => ({
          model: `models/${MODEL}`,
          content: { parts: [{ text }] },
          outputDimensionality: 2,
        })),
      }),
      ...(signal && { signal }),
    }),
  );
}

/** What one call came to: a status, with the vector count for a 200, or "drop". */
async function outcome(handler: SimulatorHandler, texts = ["a", "b"]): Promise<string> {
  let response: Response;
  try {
    response = await call(handler, texts);
  } catch (error) {
    if (error instanceof SimulatedConnectionDrop) return "drop";
    throw error;
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    return String(response.status);
  }
  return `200x${(await response.json()).embeddings.length}`;
}

async function outcomes(faults: SimulatorFaults, seed: number, n: number): Promise<string[]> {
  const handler = createSimulatorHandler({ faults, seed });
  const results: string[] = [];
  for (let i = 0; i < n; i++) results.push(await outcome(handler));
  return results;
}

const EXPECTED: Record<string, string> = {
  error500: "500",
  error503: "503",
  drop: "drop",
  wrongCount: "200x1",
};

Deno.test("Faults are drawn with their probability, reproducibly from the seed", async (t) => {
  for (const kind of ["error500", "error503", "drop", "wrongCount"] as const) {
    await t.step(kind, async () => {
      const handler = createSimulatorHandler({ faults: { [kind]: 0.25 }, seed: 42 });
      const results: string[] = [];
      for (let i = 0; i < 400; i++) results.push(await outcome(handler));
      const faulted = results.filter((r) => r === EXPECTED[kind]).length;
      assert.equal(results.filter((r) => r === "200x2").length, 400 - faulted);
      assert.equal(handler.stats.faults[kind as SimulatedFaultKind], faulted);
      // 400 draws at 0.25: expect 100, and seed 42 is well inside 60..140.
      assert.ok(faulted > 60 && faulted < 140, `${faulted} of 400`);
      assert.deepEqual(await outcomes({ [kind]: 0.25 }, 42, 400), results);
      assert.notDeepEqual(await outcomes({ [kind]: 0.25 }, 43, 400), results);
    });
  }
});

Deno.test("Faults stack in a fixed order and a script returning undefined keeps the draws", async () => {
  const faults = { error500: 0.1, error503: 0.1, drop: 0.1, wrongCount: 0.1 };
  const drawn = await outcomes(faults, 5, 200);
  for (const result of ["500", "503", "drop", "200x1", "200x2"]) {
    assert.ok(drawn.includes(result), result);
  }
  assert.deepEqual(await outcomes({ ...faults, script: () => undefined }, 5, 200), drawn);
  assert.deepEqual(await outcomes({}, 5, 20), Array(20).fill("200x2"));
});

Deno.test("Faults: a script forces a fault on a chosen call", async () => {
  const seen: [number, readonly string[]][] = [];
  const handler = createSimulatorHandler({
    faults: {
      script: (index, texts) => {
        seen.push([index, texts]);
        return index === 2 ? "error503" : texts.includes("poison") ? "error500" : undefined;
      },
    },
  });
  assert.deepEqual(
    [
      await outcome(handler),
      await outcome(handler),
      await outcome(handler),
      await outcome(handler, ["x", "poison"]),
      await outcome(handler),
    ],
    ["200x2", "200x2", "503", "500", "200x2"],
  );
  assert.deepEqual(seen.map(([index]) => index), [0, 1, 2, 3, 4]);
  assert.deepEqual(seen[3]?.[1], ["x", "poison"]);
  assert.equal(handler.stats.faults.error503, 1);
  assert.equal(handler.stats.faults.error500, 1);
});

Deno.test("Faults: 500 and 503 carry Gemini's bodies through GeminiEmbedder", async () => {
  const handler = createSimulatorHandler({
    faults: { script: (index) => (["error500", "error503"] as const)[index] },
  });
  const embedder = new GeminiEmbedder({ client: simulatorClient(handler) });
  const internal = await embedder.embed(["a"]).catch((e) => e);
  assert.ok(internal instanceof GeminiApiError);
  assert.equal(internal.status, 500);
  assert.equal(internal.code, "INTERNAL");
  assert.match(internal.message, /^An internal error has occurred\. Please retry/);
  const overloaded = await embedder.embed(["a"]).catch((e) => e);
  assert.ok(overloaded instanceof GeminiApiError);
  assert.equal(overloaded.status, 503);
  assert.equal(overloaded.code, "UNAVAILABLE");
  assert.equal(overloaded.message, "The model is overloaded. Please try again later.");
});

Deno.test("Faults: wrongCount is an EmbeddingCountError through GeminiEmbedder", async () => {
  const handler = createSimulatorHandler({ faults: { wrongCount: 1 } });
  const embedder = new GeminiEmbedder({ client: simulatorClient(handler) });
  const error = await embedder.embed(["a", "b", "c"]).catch((e) => e);
  assert.ok(error instanceof EmbeddingCountError);
  assert.equal(error.expected, 3);
  assert.equal(error.received, 2);
  assert.equal(handler.stats.texts, 2);
});

Deno.test("Faults: a drop is fetch's TypeError through simulatorClient", async () => {
  const handler = createSimulatorHandler({
    faults: { script: (i) => i === 0 ? "drop" : undefined },
  });
  const embedder = new GeminiEmbedder({
    client: simulatorClient(handler),
    outputDimensionality: 2,
  });
  const error = await embedder.embed(["a"]).catch((e) => e);
  assert.ok(error instanceof TypeError);
  assert.equal(error.message, "error reading a body from connection");
  assert.ok(error.cause instanceof SimulatedConnectionDrop);
  assert.deepEqual(await embedder.embed(["a"]), [simulatedEmbedding("a", 2)]);
  assert.equal(handler.stats.faults.drop, 1);
  assert.deepEqual(handler.stats.byStatus, { 200: 1 });
});

Deno.test("Faults: a drop over loopback reaches the real SDK as a network TypeError", async () => {
  await using simulator = startSimulator({
    faults: { script: (i) => i === 0 ? "drop" : i === 1 ? "wrongCount" : undefined },
  });
  const embedder = new GeminiEmbedder({
    apiKey: "k",
    baseUrl: simulator.url,
    outputDimensionality: 2,
  });
  const dropped = await embedder.embed(["a"]).catch((e) => e);
  assert.ok(dropped instanceof TypeError, String(dropped));
  assert.equal(dropped.message, "error reading a body from connection");
  await assert.rejects(embedder.embed(["a", "b"]), EmbeddingCountError);
  assert.deepEqual(await embedder.embed(["a"]), [simulatedEmbedding("a", 2)]);
  assert.equal(simulator.stats.faults.drop, 1);
});

Deno.test("Faults: a hang answers 499 when the client aborts and 503 when the simulator stops", async () => {
  // Real timers: nothing is scheduled, and a leaked listener or timer fails the sanitizers.
  const stopping = new AbortController();
  const handler = createSimulatorHandler({ faults: { hang: 1 }, signal: stopping.signal });
  const client = new AbortController();
  const aborted = call(handler, ["a"], client.signal);
  const stopped = call(handler, ["b"]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  client.abort();
  assert.equal((await aborted).status, 499);
  let settled = false;
  stopped.then(() => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(settled, false);
  stopping.abort();
  const response = await stopped;
  assert.equal(response.status, 503);
  assert.equal((await response.json()).error.status, "UNAVAILABLE");
  assert.equal(handler.stats.faults.hang, 2);
});

Deno.test("Faults: a hung call over loopback ends when the simulator closes", async () => {
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => arrived = resolve);
  const simulator = startSimulator({ faults: { hang: 1 }, onBatch: () => arrived() });
  const embedder = new GeminiEmbedder({ apiKey: "k", baseUrl: simulator.url });
  const pending = embedder.embed(["a"]).catch((e) => e);
  await arrival;
  await simulator.close();
  const error = await pending;
  assert.ok(error instanceof GeminiApiError);
  assert.equal(error.status, 503);
});

Deno.test("Latency model: base + per text, and a spike, on fake time", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({
    latency: { baseMs: 100, perTextMs: 10 },
    faults: { script: (i) => i === 1 ? { kind: "latencySpike", ms: 1000 } : undefined },
  });
  for (const expected of [130, 1130]) {
    let settled = false;
    const pending = call(handler, ["a", "b", "c"]).then((r) => {
      settled = true;
      return r;
    });
    await time.tick(expected - 1);
    assert.equal(settled, false);
    await time.tick(1);
    assert.equal(settled, true);
    assert.equal((await pending).status, 200);
  }
  assert.equal(handler.stats.faults.latencySpike, 1);
});

Deno.test("Latency model: seeded jitter is reproducible and within range", async () => {
  using time = new FakeTime();
  async function latencies(seed: number): Promise<number[]> {
    const handler = createSimulatorHandler({ latency: { baseMs: 50, jitterMs: 40 }, seed });
    const result: number[] = [];
    for (let i = 0; i < 10; i++) {
      let settled = false;
      const pending = call(handler, ["a"]).then(() => settled = true);
      let elapsed = 0;
      while (!settled) {
        await time.tick(1);
        elapsed++;
      }
      await pending;
      result.push(elapsed);
    }
    return result;
  }
  const first = await latencies(3);
  assert.deepEqual(await latencies(3), first);
  assert.notDeepEqual(await latencies(4), first);
  assert.ok(first.every((ms) => ms >= 50 && ms <= 90), String(first));
  assert.ok(new Set(first).size > 1, String(first));
});

Deno.test("Latency model: latencyMs still sets the base, and GEMINI_LATENCY is realistic", async () => {
  using time = new FakeTime();
  const handler = createSimulatorHandler({ latencyMs: 70, latency: { perTextMs: 5 } });
  let settled = false;
  const pending = call(handler, ["a", "b"]).then(() => settled = true);
  await time.tick(79);
  assert.equal(settled, false);
  await time.tick(1);
  await pending;
  assert.deepEqual(GEMINI_LATENCY, { baseMs: 150, perTextMs: 2, jitterMs: 100 });
});

Deno.test("createSimulatorHandler rejects invalid fault and latency options with RangeError", () => {
  const cases: [Parameters<typeof createSimulatorHandler>[0], string][] = [
    [
      { faults: { error500: 1.5 } },
      "faults.error500 must be a probability from 0 to 1, received 1.5",
    ],
    [{ faults: { drop: -0.1 } }, "faults.drop must be a probability from 0 to 1, received -0.1"],
    [
      { faults: { error503: 0.6, hang: 0.6 } },
      "fault probabilities must add up to at most 1, received 1.2",
    ],
    [
      { faults: { latencySpike: { probability: 0.1, ms: -1 } } },
      "faults.latencySpike.ms must be a non-negative finite number, received -1",
    ],
    [
      { latency: { jitterMs: NaN } },
      "latency.jitterMs must be a non-negative finite number, received NaN",
    ],
    [{ seed: 1.5 }, "seed must be an integer, received 1.5"],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => createSimulatorHandler(options), {
      name: "RangeError",
      message: `Cannot create simulator: ${message}`,
    });
  }
});
