import assert from "node:assert/strict";
import { mock } from "node:test";
import {
  createSimulatorHandler,
  type SimulatedBatch,
  simulatedEmbedding,
  type SimulatorHandler,
  type SimulatorStats,
  startSimulator,
} from "./server.ts";

const MODEL = "gemini-embedding-2";
const ENDPOINT = `http://simulator/v1beta/models/${MODEL}:batchEmbedContents`;

interface CallOptions {
  /** The API key header; `null` sends none. */
  key?: string | null;
  method?: string;
  url?: string;
  signal?: AbortSignal;
}

/** Sends `body` (JSON-encoded unless a string) to the handler. */
function call(handler: SimulatorHandler, body: unknown, options: CallOptions = {}) {
  const { key = "test-key", method = "POST", url = ENDPOINT, signal } = options;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== null) headers["x-goog-api-key"] = key;
  return handler(
    new Request(url, {
      method,
      headers,
      ...(method !== "GET" && method !== "HEAD" &&
        { body: typeof body === "string" ? body : JSON.stringify(body) }),
      ...(signal && { signal }),
    }),
  );
}

/** One request of a batch, for `text`, with extra fields. */
function request(text: string, extra: Record<string, unknown> = {}) {
  return { model: `models/${MODEL}`, content: { parts: [{ text }] }, ...extra };
}

function batchOf(texts: string[], extra: Record<string, unknown> = {}) {
  return { requests: texts.map((text) => request(text, extra)) };
}

async function embeddingsOf(response: Response): Promise<number[][]> {
  assert.equal(response.status, 200, await response.clone().text());
  const body = await response.json();
  return body.embeddings.map((embedding: { values: number[] }) => embedding.values);
}

/** Checks Gemini's error shape and content type, and returns the error object. */
async function errorOf(
  response: Response,
  status: number,
  rpcStatus: string,
): Promise<{ code: number; message: string; status: string; details?: unknown[] }> {
  assert.equal(response.status, status);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, status);
  assert.equal(body.error.status, rpcStatus);
  assert.equal(typeof body.error.message, "string");
  return body.error;
}

/** The request, text and status counters of the stats. */
function counts({ requests, texts, byStatus }: SimulatorStats) {
  return { requests, texts, byStatus };
}

function norm(vector: number[]): number {
  return Math.hypot(...vector);
}

/** Lets pending promise continuations run (fake time does not advance them). */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => queueMicrotask(resolve));
}

Deno.test("simulatedEmbedding is deterministic and depends on text and model", () => {
  const vector = simulatedEmbedding("hello", 16);
  assert.deepEqual(simulatedEmbedding("hello", 16), vector);
  assert.notDeepEqual(simulatedEmbedding("hello.", 16), vector);
  assert.notDeepEqual(simulatedEmbedding("hello", 16, "other-model"), vector);
  assert.deepEqual(simulatedEmbedding("hello", 16, `models/${MODEL}`), vector);
  assert.deepEqual(simulatedEmbedding("hello", 16, MODEL), vector);
});

Deno.test("simulatedEmbedding returns L2-normalised values in [-1, 1], 3072 by default", () => {
  for (const dimensions of [1, 2, 7, 768, 3072]) {
    const vector = simulatedEmbedding("text", dimensions);
    assert.equal(vector.length, dimensions);
    assert.ok(Math.abs(norm(vector) - 1) < 1e-6, `norm for ${dimensions}`);
    assert.ok(vector.every((value) => value >= -1 && value <= 1));
  }
  assert.equal(simulatedEmbedding("text").length, 3072);
});

/** The significant digits of a number as JSON writes it: `-0.0223745` → 6. */
function significantDigits(value: number): number {
  return JSON.stringify(value).replace(/^-?0\.0*/, "").replace(/e.*$/, "").replace(".", "").length;
}

Deno.test("simulatedEmbedding gives float32 values, as the API's JSON carries them", () => {
  for (const model of [MODEL, "gemini-embedding-001"]) {
    for (const value of simulatedEmbedding("float", 768, model)) {
      const digits = significantDigits(value);
      assert.ok(digits <= 9, `${value} has at most 9 digits`);
      // The value is a float32 written in `digits` digits.
      assert.equal(value, Number(Math.fround(value).toPrecision(digits)), `${value}`);
    }
  }
});

Deno.test("Simulator writes each value in at most 9 significant digits, as the API does", async () => {
  const handler = createSimulatorHandler();
  const response = await call(handler, batchOf(["short", "digits"]));
  const body = await response.text();
  const numbers = body.match(/-?\d[\d.e+-]*/g) ?? [];
  assert.ok(numbers.length >= 2 * 3072, `${numbers.length} numbers`);
  for (const number of numbers) assert.ok(significantDigits(Number(number)) <= 9, number);
  const vectors = JSON.parse(body).embeddings.map((e: { values: number[] }) => e.values);
  assert.deepEqual(vectors, [simulatedEmbedding("short"), simulatedEmbedding("digits")]);
});

Deno.test("simulatedEmbedding gives shorter vectors as a renormalised prefix of longer ones", () => {
  const full = simulatedEmbedding("prefix", 3072);
  for (const dimensions of [3, 256, 1536]) {
    const prefix = full.slice(0, dimensions);
    const scale = norm(prefix);
    const short = simulatedEmbedding("prefix", dimensions);
    short.forEach((value, i) => assert.ok(Math.abs(value - prefix[i]! / scale) < 1e-6));
  }
});

Deno.test("simulatedEmbedding spreads different texts apart", () => {
  const a = simulatedEmbedding("alpha", 256);
  const b = simulatedEmbedding("beta", 256);
  const cosine = a.reduce((sum, value, i) => sum + value * b[i]!, 0);
  assert.ok(Math.abs(cosine) < 0.5, `cosine ${cosine}`);
});

Deno.test("simulatedEmbedding rejects a dimension count that is not a positive integer", () => {
  for (const dimensions of [0, -1, 1.5, NaN]) {
    assert.throws(() => simulatedEmbedding("x", dimensions), {
      name: "RangeError",
      message:
        `Cannot compute simulated embedding: dimensions must be a positive integer, received ${dimensions}`,
    });
  }
});

Deno.test("Simulator embeds each text with its own vector, in request order", async () => {
  const handler = createSimulatorHandler();
  const texts = ["first", "second", "third", "second"];
  const vectors = await embeddingsOf(await call(handler, batchOf(texts)));
  assert.deepEqual(vectors, texts.map((text) => simulatedEmbedding(text, 3072, MODEL)));
  assert.deepEqual(vectors[1], vectors[3]);
  assert.notDeepEqual(vectors[0], vectors[1]);
});

Deno.test("Simulator answers the same text with the same vector across calls", async () => {
  const handler = createSimulatorHandler();
  const first = await embeddingsOf(await call(handler, batchOf(["stable"])));
  const second = await embeddingsOf(await call(handler, batchOf(["stable"])));
  assert.deepEqual(first, second);
});

Deno.test("Simulator serves both v1 and v1beta", async () => {
  const handler = createSimulatorHandler();
  for (const version of ["v1", "v1beta"]) {
    const url = `http://simulator/${version}/models/${MODEL}:batchEmbedContents`;
    assert.deepEqual(await embeddingsOf(await call(handler, batchOf(["v"]), { url })), [
      simulatedEmbedding("v"),
    ]);
  }
});

Deno.test("Simulator returns outputDimensionality values per request", async () => {
  const handler = createSimulatorHandler();
  const response = await call(handler, {
    requests: [
      request("a", { outputDimensionality: 8 }),
      request("b", { outputDimensionality: 768 }),
      request("c"),
      request("d", { outputDimensionality: 0 }),
    ],
  });
  const vectors = await embeddingsOf(response);
  assert.deepEqual(vectors.map((vector) => vector.length), [8, 768, 3072, 3072]);
  assert.deepEqual(vectors[0], simulatedEmbedding("a", 8));
  for (const vector of vectors) assert.ok(Math.abs(norm(vector) - 1) < 1e-6);
});

Deno.test("Simulator rejects an outputDimensionality Gemini would reject", async (t) => {
  const handler = createSimulatorHandler();
  for (
    const [value, pattern] of [
      [3073, /output_dimensionality: must be between 1 and 3072, received 3073/],
      [-1, /output_dimensionality: must be between 1 and 3072, received -1/],
      [1.5, /Invalid value at 'requests\[0\]\.output_dimensionality' \(TYPE_INT32\), 1\.5/],
      ["8", /Invalid value at 'requests\[0\]\.output_dimensionality' \(TYPE_INT32\), "8"/],
    ] as const
  ) {
    await t.step(`${JSON.stringify(value)}`, async () => {
      const response = await call(handler, batchOf(["x"], { outputDimensionality: value }));
      const error = await errorOf(response, 400, "INVALID_ARGUMENT");
      assert.match(error.message, pattern);
    });
  }
});

Deno.test("Simulator rejects more than 100 requests with INVALID_ARGUMENT", async () => {
  const handler = createSimulatorHandler();
  const texts = Array.from({ length: 101 }, (_, i) => `text ${i}`);
  const error = await errorOf(await call(handler, batchOf(texts)), 400, "INVALID_ARGUMENT");
  assert.equal(
    error.message,
    "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch",
  );
  assert.equal(handler.stats.texts, 0);
});

Deno.test("Simulator accepts exactly 100 requests", async () => {
  const handler = createSimulatorHandler();
  const texts = Array.from({ length: 100 }, (_, i) => `text ${i}`);
  const vectors = await embeddingsOf(
    await call(handler, batchOf(texts, { outputDimensionality: 4 })),
  );
  assert.equal(vectors.length, 100);
  assert.deepEqual(vectors[99], simulatedEmbedding("text 99", 4));
});

Deno.test("Simulator answers a missing API key with 403 PERMISSION_DENIED", async () => {
  const handler = createSimulatorHandler();
  for (const key of [null, ""]) {
    const error = await errorOf(
      await call(handler, batchOf(["x"]), { key }),
      403,
      "PERMISSION_DENIED",
    );
    assert.match(error.message, /^Method doesn't allow unregistered callers/);
  }
});

Deno.test("Simulator answers a key outside apiKeys with 400 API key not valid", async () => {
  const handler = createSimulatorHandler({ apiKeys: ["good-1", "good-2"] });
  const error = await errorOf(
    await call(handler, batchOf(["x"]), { key: "bad" }),
    400,
    "INVALID_ARGUMENT",
  );
  assert.equal(error.message, "API key not valid. Please pass a valid API key.");
  assert.deepEqual(error.details, [{
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    reason: "API_KEY_INVALID",
    domain: "googleapis.com",
    metadata: { service: "generativelanguage.googleapis.com" },
  }]);
  assert.equal((await call(handler, batchOf(["x"]), { key: "good-2" })).status, 200);
});

Deno.test("Simulator accepts the API key as the key query parameter", async () => {
  const handler = createSimulatorHandler({ apiKeys: ["query-key"] });
  const response = await call(handler, batchOf(["x"]), {
    key: null,
    url: `${ENDPOINT}?key=query-key`,
  });
  assert.deepEqual(await embeddingsOf(response), [simulatedEmbedding("x")]);
});

Deno.test("Simulator rejects a request whose model differs from the URL's", async (t) => {
  const handler = createSimulatorHandler();
  await t.step("another model", async () => {
    const body = { requests: [request("a"), request("b", { model: "models/other" })] };
    const error = await errorOf(await call(handler, body), 400, "INVALID_ARGUMENT");
    assert.match(error.message, /^\* BatchEmbedContentsRequest\.requests\[1\]\.model: /);
    assert.match(error.message, /received models\/other$/);
  });
  await t.step("no models/ prefix or no model", async () => {
    for (const model of [MODEL, undefined, 7]) {
      const error = await errorOf(
        await call(handler, { requests: [request("a", { model })] }),
        400,
        "INVALID_ARGUMENT",
      );
      assert.equal(
        error.message,
        "* BatchEmbedContentsRequest.requests[0].model: unexpected model name format",
      );
    }
  });
});

Deno.test("Simulator rejects a batch without requests", async () => {
  const handler = createSimulatorHandler();
  for (const body of [{}, { requests: [] }]) {
    const error = await errorOf(await call(handler, body), 400, "INVALID_ARGUMENT");
    assert.equal(
      error.message,
      "* BatchEmbedContentsRequest.requests: at least one request is required",
    );
  }
  const error = await errorOf(await call(handler, { requests: "x" }), 400, "INVALID_ARGUMENT");
  assert.match(error.message, /^Invalid value at 'requests'/);
});

Deno.test("Simulator rejects a request without text", async (t) => {
  const handler = createSimulatorHandler();
  const cases: [string, unknown, RegExp][] = [
    ["no content", { model: `models/${MODEL}` }, /requests\[0\]\.content: content is required/],
    [
      "no parts",
      { model: `models/${MODEL}`, content: { parts: [] } },
      /requests\[0\]\.content\.parts: contents\.parts must not be empty/,
    ],
    [
      "a part without text",
      { model: `models/${MODEL}`, content: { parts: [{}] } },
      /requests\[0\]\.content\.parts\[0\]\.data: required oneof field 'data'/,
    ],
    ["empty text", request(""), /requests\[0\]\.content: text must not be empty/],
    [
      "an image part without data",
      {
        model: `models/${MODEL}`,
        content: { parts: [{ inlineData: { mimeType: "image/png", data: "" } }] },
      },
      /inlineData\.data' \(TYPE_BYTES\), Base64 decoding failed/,
    ],
    [
      "a part of another kind",
      {
        model: `models/${MODEL}`,
        content: { parts: [{ functionCall: { name: "f" } }] },
      },
      /embedding models do not take functionCall parts/,
    ],
  ];
  for (const [name, body, pattern] of cases) {
    await t.step(name, async () => {
      const response = await call(handler, { requests: [request("fine"), body] });
      const error = await errorOf(response, 400, "INVALID_ARGUMENT");
      assert.match(error.message.replace("requests[1]", "requests[0]"), pattern);
    });
  }
  assert.equal(handler.stats.texts, 0);
});

Deno.test("Simulator embeds the joined text of several parts", async () => {
  const handler = createSimulatorHandler();
  const body = {
    requests: [{
      model: `models/${MODEL}`,
      content: { role: "user", parts: [{ text: "hello " }, { text: "world" }] },
    }],
  };
  assert.deepEqual(await embeddingsOf(await call(handler, body)), [
    simulatedEmbedding("hello world"),
  ]);
});

Deno.test("Simulator rejects unknown fields as Gemini's JSON parser does", async () => {
  const handler = createSimulatorHandler();
  const cases: [unknown, string][] = [
    [
      { requests: [request("a")], extra: 1 },
      'Invalid JSON payload received. Unknown name "extra": Cannot find field.',
    ],
    [
      { requests: [request("a", { dimensions: 8 })] },
      "Invalid JSON payload received. Unknown name \"dimensions\" at 'requests[0]': Cannot find field.",
    ],
    [
      { requests: [{ model: `models/${MODEL}`, content: { parts: [{ text: "a", x: 1 }] } }] },
      "Invalid JSON payload received. Unknown name \"x\" at 'requests[0].content.parts[0]': Cannot find field.",
    ],
  ];
  for (const [body, message] of cases) {
    const error = await errorOf(await call(handler, body), 400, "INVALID_ARGUMENT");
    assert.equal(error.message, message);
  }
});

Deno.test("Simulator accepts snake_case field names as Gemini does", async () => {
  const batches: SimulatedBatch[] = [];
  const handler = createSimulatorHandler({ onBatch: (batch) => batches.push(batch) });
  const body = {
    requests: [request("a", { output_dimensionality: 5, task_type: "CLUSTERING" })],
  };
  assert.deepEqual(await embeddingsOf(await call(handler, body)), [simulatedEmbedding("a", 5)]);
  assert.equal(batches[0]?.requests[0]?.taskType, "CLUSTERING");
});

Deno.test("Simulator validates taskType and reports it, with title, to onBatch", async () => {
  const batches: SimulatedBatch[] = [];
  const handler = createSimulatorHandler({ onBatch: (batch) => batches.push(batch) });
  const body = {
    requests: [
      request("doc", { taskType: "RETRIEVAL_DOCUMENT", title: "A title" }),
      request("query", { taskType: "CODE_RETRIEVAL_QUERY" }),
      request("plain"),
    ],
  };
  const vectors = await embeddingsOf(await call(handler, body));
  // The task type is checked and passed on, but does not change the vector.
  assert.deepEqual(vectors[0], simulatedEmbedding("doc"));
  assert.deepEqual(batches, [{
    apiVersion: "v1beta",
    model: MODEL,
    requests: [
      { text: "doc", dimensions: 3072, taskType: "RETRIEVAL_DOCUMENT", title: "A title" },
      { text: "query", dimensions: 3072, taskType: "CODE_RETRIEVAL_QUERY" },
      { text: "plain", dimensions: 3072 },
    ],
  }]);

  const error = await errorOf(
    await call(handler, batchOf(["x"], { taskType: "SUMMARIZATION" })),
    400,
    "INVALID_ARGUMENT",
  );
  assert.equal(
    error.message,
    `Invalid value at 'requests[0].task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "SUMMARIZATION"`,
  );
  assert.equal(batches.length, 1);
});

Deno.test("Simulator answers malformed JSON with 400 INVALID_ARGUMENT", async () => {
  const handler = createSimulatorHandler();
  for (const body of ["{not json", "[1]", "null"]) {
    const error = await errorOf(await call(handler, body), 400, "INVALID_ARGUMENT");
    assert.match(error.message, /^Invalid JSON payload received\./);
  }
});

Deno.test("Simulator answers an unknown path with 404 NOT_FOUND", async () => {
  const handler = createSimulatorHandler();
  for (
    const url of [
      "http://simulator/",
      `http://simulator/v2/models/${MODEL}:batchEmbedContents`,
      `http://simulator/v1beta/models/${MODEL}:embedContent`,
      `http://simulator/v1beta/models/${MODEL}:generateContent`,
    ]
  ) {
    const error = await errorOf(await call(handler, batchOf(["x"]), { url }), 404, "NOT_FOUND");
    assert.match(error.message, /^Cannot find POST \//);
  }
});

Deno.test("Simulator answers a wrong method with 405 and an Allow header", async () => {
  const handler = createSimulatorHandler();
  for (const method of ["GET", "PUT", "DELETE"]) {
    const response = await call(handler, batchOf(["x"]), { method });
    assert.equal(response.headers.get("allow"), "POST");
    const error = await errorOf(response, 405, "METHOD_NOT_ALLOWED");
    assert.match(error.message, new RegExp(`^Cannot ${method} /v1beta/models/`));
  }
});

Deno.test("Simulator answers a model outside models with 404 NOT_FOUND", async () => {
  const handler = createSimulatorHandler({ models: [`models/${MODEL}`] });
  assert.equal((await call(handler, batchOf(["x"]))).status, 200);
  const response = await call(handler, {
    requests: [request("x", { model: "models/text-embedding-004" })],
  }, { url: "http://simulator/v1beta/models/text-embedding-004:batchEmbedContents" });
  const error = await errorOf(response, 404, "NOT_FOUND");
  assert.match(error.message, /^models\/text-embedding-004 is not found for API version v1beta/);
});

Deno.test("Simulator answers 500 INTERNAL when onBatch throws", async () => {
  const handler = createSimulatorHandler({
    onBatch: () => {
      throw new Error("hook failed");
    },
  });
  const error = await errorOf(await call(handler, batchOf(["x"])), 500, "INTERNAL");
  assert.equal(error.message, "Internal error encountered.");
});

Deno.test("Simulator counts requests, embedded texts and statuses", async () => {
  const handler = createSimulatorHandler();
  assert.deepEqual(counts(handler.stats), { requests: 0, texts: 0, byStatus: {} });
  await (await call(handler, batchOf(["a", "b", "c"], { outputDimensionality: 2 }))).body?.cancel();
  await (await call(handler, batchOf(["d"], { outputDimensionality: 2 }))).body?.cancel();
  await (await call(handler, batchOf(["e"]), { key: null })).body?.cancel();
  await (await call(handler, {})).body?.cancel();
  assert.deepEqual(counts(handler.stats), {
    requests: 4,
    texts: 4,
    byStatus: { 200: 2, 400: 1, 403: 1 },
  });
});

Deno.test("createSimulatorHandler rejects invalid options with RangeError", () => {
  for (const latencyMs of [-1, Infinity, NaN]) {
    assert.throws(() => createSimulatorHandler({ latencyMs }), {
      name: "RangeError",
      message:
        `Cannot create simulator: latencyMs must be a non-negative finite number, received ${latencyMs}`,
    });
  }
  assert.throws(() => createSimulatorHandler({ apiKeys: [] }), {
    name: "RangeError",
    message: "Cannot create simulator: apiKeys must list at least one key, received an empty list",
  });
});

Deno.test("Simulator waits latencyMs before answering, on fake time", async () => {
  mock.timers.enable({ apis: ["setTimeout", "Date"] });
  try {
    let arrived = false;
    const handler = createSimulatorHandler({ latencyMs: 1000, onBatch: () => arrived = true });
    let settled = false;
    const pending = call(handler, batchOf(["slow"], { outputDimensionality: 3 })).then((r) => {
      settled = true;
      return r;
    });
    await flushMicrotasks();
    assert.ok(arrived);
    mock.timers.tick(999);
    await flushMicrotasks();
    assert.equal(settled, false);
    mock.timers.tick(1);
    await flushMicrotasks();
    assert.equal(settled, true);
    assert.deepEqual(await embeddingsOf(await pending), [simulatedEmbedding("slow", 3)]);
  } finally {
    mock.timers.reset();
  }
});

Deno.test("Simulator answers 499 CANCELLED at once when the client aborts during the wait", async () => {
  // Real timers: a latency timer left behind would fail the test's sanitizer.
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => arrived = resolve);
  const handler = createSimulatorHandler({ latencyMs: 3_600_000, onBatch: () => arrived() });
  const controller = new AbortController();
  const pending = call(handler, batchOf(["x"]), { signal: controller.signal });
  await arrival;
  controller.abort(new Error("client gone"));
  const error = await errorOf(await pending, 499, "CANCELLED");
  assert.equal(error.message, "The operation was cancelled.");
  assert.deepEqual(counts(handler.stats), { requests: 1, texts: 0, byStatus: { 499: 1 } });
});

Deno.test("Simulator answers 503 UNAVAILABLE when its signal aborts during the wait", async () => {
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => arrived = resolve);
  const stopping = new AbortController();
  const handler = createSimulatorHandler({
    latencyMs: 3_600_000,
    onBatch: () => arrived(),
    signal: stopping.signal,
  });
  const pending = call(handler, batchOf(["x"]));
  await arrival;
  stopping.abort();
  await errorOf(await pending, 503, "UNAVAILABLE");
  // Calls arriving after the stop are refused too, even without latency.
  await errorOf(await call(handler, batchOf(["y"])), 503, "UNAVAILABLE");
});

Deno.test("startSimulator serves over loopback HTTP until closed", async () => {
  const simulator = startSimulator({ apiKeys: ["k"] });
  try {
    assert.match(simulator.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${simulator.url}/v1/models/${MODEL}:batchEmbedContents`, {
      method: "POST",
      headers: { "x-goog-api-key": "k" },
      body: JSON.stringify(batchOf(["over http"], { outputDimensionality: 6 })),
    });
    assert.deepEqual(await embeddingsOf(response), [simulatedEmbedding("over http", 6)]);
    assert.deepEqual(counts(simulator.stats), { requests: 1, texts: 1, byStatus: { 200: 1 } });
  } finally {
    await simulator.close();
  }
  await assert.rejects(fetch(`${simulator.url}/`), TypeError);
  assert.equal(simulator.close(), simulator.close());
});

Deno.test("startSimulator answers waiting calls with 503 when closed", async () => {
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => arrived = resolve);
  const simulator = startSimulator({ latencyMs: 3_600_000, onBatch: () => arrived() });
  try {
    const pending = fetch(`${simulator.url}/v1beta/models/${MODEL}:batchEmbedContents`, {
      method: "POST",
      headers: { "x-goog-api-key": "k" },
      body: JSON.stringify(batchOf(["x"])),
    });
    await arrival;
    const closed = simulator.close();
    await errorOf(await pending, 503, "UNAVAILABLE");
    await closed;
  } finally {
    await simulator.close();
  }
});

Deno.test("startSimulator stops when its signal aborts, and works with await using", async () => {
  const controller = new AbortController();
  let url: string;
  {
    await using simulator = startSimulator({ signal: controller.signal });
    url = simulator.url;
    const response = await fetch(`${url}/`);
    await errorOf(response, 404, "NOT_FOUND");
    controller.abort();
    await simulator.close();
  }
  await assert.rejects(fetch(`${url}/`), TypeError);
});

Deno.test("startSimulator rejects an invalid port with RangeError", () => {
  for (const port of [-1, 65536, 1.5]) {
    assert.throws(() => startSimulator({ port }), {
      name: "RangeError",
      message: `Cannot start simulator: port must be an integer from 0 to 65535, received ${port}`,
    });
  }
});

const CLI = new URL("./cli.ts", import.meta.url).pathname;
const CWD = new URL(".", import.meta.url).pathname;

function cli(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-env", CLI, ...args],
    cwd: CWD,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("Simulator CLI exits 2 with the usage on a bad flag", async () => {
  for (
    const args of [
      ["--bogus"],
      ["--port", "http"],
      ["--latency=-5"],
      ["--rpm", "0"],
      ["--error-503", "2"],
      ["--latency-spike", "0.1"],
      ["--drop", "0.6", "--hang", "0.6"],
    ]
  ) {
    const { code, stderr } = await cli(args).output();
    const message = new TextDecoder().decode(stderr);
    assert.equal(code, 2, message);
    assert.match(
      message,
      /^[^\n]+\nrun with --help for usage\n$/,
      "one line and the hint, not the help",
    );
  }
});

Deno.test("Simulator CLI prints its URL, serves, and stops on SIGINT", async () => {
  const child = cli(["--port", "0", "--api-key", "cli-key"]).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let output = "";
  try {
    while (!output.includes("Ctrl-C")) {
      const { done, value } = await lines.next();
      if (done) break;
      output += value;
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    assert.ok(url, output);
    // The key is not echoed: the CLI never prints an API key.
    assert.match(output, new RegExp(`GOOGLE_GEMINI_BASE_URL=${url} GEMINI_API_KEY=<one of`));
    assert.doesNotMatch(output, /cli-key/);
    const response = await fetch(`${url}/v1beta/models/${MODEL}:batchEmbedContents`, {
      method: "POST",
      headers: { "x-goog-api-key": "cli-key" },
      body: JSON.stringify(batchOf(["from cli"], { outputDimensionality: 2 })),
    });
    assert.deepEqual(await embeddingsOf(response), [simulatedEmbedding("from cli", 2)]);
  } finally {
    child.kill("SIGINT");
    for await (const value of lines) output += value;
  }
  const { code } = await child.status;
  assert.equal(code, 0, await stderr);
  assert.match(
    output,
    /Stopped after 1 requests, 1 texts embedded, 2 tokens; answers \{200: 1\}; 0 rate-limited \(429\); faults: none; peak per key: 1 requests\/min, 2 tokens\/min\./,
  );
});

Deno.test("Simulator CLI applies fault flags and reports faults and 429s on exit", async () => {
  const child = cli(["--rpm", "2", "--error-503", "1"]).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let output = "";
  try {
    while (!output.includes("Ctrl-C")) {
      const { done, value } = await lines.next();
      if (done) break;
      output += value;
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    assert.ok(url, output);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${url}/v1beta/models/${MODEL}:batchEmbedContents`, {
        method: "POST",
        headers: { "x-goog-api-key": "k" },
        body: JSON.stringify(batchOf(["x"])),
      });
      await response.body?.cancel();
      statuses.push(response.status);
    }
    assert.deepEqual(statuses, [503, 503, 429]);
  } finally {
    child.kill("SIGINT");
    for await (const value of lines) output += value;
  }
  const { code } = await child.status;
  assert.equal(code, 0, await stderr);
  assert.match(output, /answers \{429: 1, 503: 2\}; 1 rate-limited \(429\); faults: error503 2;/);
});

Deno.test("startSimulator does not make Deno print its legacy request.signal notice", async () => {
  // Waits, hangs and drops all used to read request.signal inside Deno.serve.
  const script = `
    import { GeminiEmbedder } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    import { startSimulator } from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
    const simulator = startSimulator({
      latency: { baseMs: 5, perTextMs: 1 },
      faults: { script: (i) => (["drop", "hang"])[i] },
    });
    const embedder = new GeminiEmbedder({ apiKey: "k", baseUrl: simulator.url });
    await embedder.embed(["a"]).catch(() => {});
    const hung = embedder.embed(["b"]).catch(() => {});
    await embedder.embed(["c"]);
    await simulator.close();
    await hung;
    console.log("done", JSON.stringify(simulator.stats.faults));
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: CWD,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  assert.match(new TextDecoder().decode(stdout), /^done .*"hang":1,"drop":1/);
  assert.doesNotMatch(err, /request\.signal|legacy/);
  assert.equal(err.trim(), "");
});
