import assert from "node:assert/strict";
import { ApiError, GoogleGenAI } from "@google/genai";
import { type GeminiClient, GeminiEmbedder } from "./embedder.ts";
import { normalize } from "./normalize.ts";
import { EmbeddingBatcher } from "../embedding_batcher.ts";
import { FakeTime } from "../internal/fake_time.ts";
import { EmbeddingCountError, GeminiApiError, MissingApiKeyError } from "../errors.ts";
import {
  type SimulatedBatch,
  simulatedContentEmbedding,
  simulatedEmbedding,
  startSimulator,
} from "../simulator/server.ts";
import { estimateTokens } from "../resilience/tokens.ts";

const KEY = "test-key-0123456789";

/** Starts a simulator that records each batch it receives. */
function recordingSimulator(options: Parameters<typeof startSimulator>[0] = {}) {
  const batches: SimulatedBatch[] = [];
  const simulator = startSimulator({
    ...options,
    onBatch: (batch) => {
      batches.push(batch);
      options.onBatch?.(batch);
    },
  });
  return { simulator, batches };
}

/** Serves `handler` on a free loopback port, for replies the simulator never gives. */
function serve(handler: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** Runs `fn` with environment variables set (or, for `undefined`, unset), then restores them. */
async function withEnv(
  vars: Record<string, string | undefined>,
  fn: () => void | Promise<void>,
): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, Deno.env.get(name)]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  apply(vars);
  try {
    await fn();
  } finally {
    apply(saved);
  }
}

Deno.test("GeminiEmbedder returns one vector per text in input order", async () => {
  const { simulator, batches } = recordingSimulator({ apiKeys: [KEY] });
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url });
    const texts = ["one", "two", "three", "two", "ünïcödé 🌍", "a much longer text ".repeat(50)];
    const vectors = await embedder.embed(texts);
    assert.deepEqual(
      vectors,
      texts.map((text) => simulatedEmbedding(text, 3072, "gemini-embedding-2")),
    );
    assert.equal(batches.length, 1);
    assert.deepEqual(batches[0]?.requests.map((request) => request.text), texts);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder sends the model, outputDimensionality and taskType", async () => {
  const { simulator, batches } = recordingSimulator();
  try {
    const embedder = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      model: "models/text-embedding-005",
      outputDimensionality: 16,
      taskType: "RETRIEVAL_DOCUMENT",
    });
    const vectors = await embedder.embed(["doc a", "doc b"]);
    // An unknown model is treated like 001: reduced sizes come back
    // unnormalised, and the embedder scales them to unit length.
    assert.deepEqual(vectors, [
      normalize(simulatedEmbedding("doc a", 16, "text-embedding-005")),
      normalize(simulatedEmbedding("doc b", 16, "text-embedding-005")),
    ]);
    assert.deepEqual(batches, [{
      // SDK 3.3.0 defaults to v1 for the Gemini API.
      apiVersion: "v1",
      model: "text-embedding-005",
      requests: [
        { text: "doc a", dimensions: 16, taskType: "RETRIEVAL_DOCUMENT" },
        { text: "doc b", dimensions: 16, taskType: "RETRIEVAL_DOCUMENT" },
      ],
    }]);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder uses the given apiVersion", async () => {
  const { simulator, batches } = recordingSimulator();
  try {
    const embedder = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      apiVersion: "v1beta",
    });
    assert.equal((await embedder.embed(["x"])).length, 1);
    assert.equal(batches[0]?.apiVersion, "v1beta");
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder gets one vector per text from gemini-embedding-2 models", async () => {
  const model = "gemini-embedding-2-preview";
  const { simulator, batches } = recordingSimulator();
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url, model });
    const texts = ["red", "green", "blue"];
    assert.deepEqual(
      await embedder.embed(texts),
      texts.map((text) => simulatedEmbedding(text, 3072, model)),
    );

    // Why each text is sent as its own Content: given plain strings, the SDK
    // merges them into one Content for these models, and one vector comes back.
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: simulator.url } });
    const merged = await ai.models.embedContent({ model, contents: texts });
    assert.equal(merged.embeddings?.length, 1);
    assert.deepEqual(batches[1]?.requests.map((request) => request.text), ["redgreenblue"]);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder surfaces more than 100 texts, rejected by the API, as GeminiApiError", async () => {
  const simulator = startSimulator();
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url });
    const texts = Array.from({ length: 101 }, (_, i) => `text ${i}`);
    const error = await embedder.embed(texts).then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof GeminiApiError);
    assert.equal(error.name, "GeminiApiError");
    assert.equal(error.status, 400);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(
      error.message,
      "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch",
    );
    assert.deepEqual(error.details, []);
    assert.ok(error.cause instanceof ApiError);
    assert.deepEqual(simulator.stats.byStatus, { 400: 1 });
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder surfaces an invalid key as GeminiApiError with the details", async () => {
  const simulator = startSimulator({ apiKeys: ["the-only-good-key"] });
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url });
    await assert.rejects(embedder.embed(["x"]), (error) => {
      assert.ok(error instanceof GeminiApiError);
      assert.equal(error.status, 400);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.equal(error.message, "API key not valid. Please pass a valid API key.");
      assert.deepEqual((error.details[0] as { reason?: string }).reason, "API_KEY_INVALID");
      return true;
    });
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder never puts the API key in an error", async () => {
  const secret = "AIzaSy-very-secret-key";
  // A server that echoes the key it was sent in every part of its error.
  const server = serve((request) => {
    const key = request.headers.get("x-goog-api-key") ?? "";
    return Response.json({
      error: {
        code: 400,
        message: `API key ${key} not valid`,
        status: "INVALID_ARGUMENT",
        details: [{ "@type": "type.googleapis.com/google.rpc.LocalizedMessage", message: key }],
      },
    }, { status: 400 });
  });
  try {
    const embedder = new GeminiEmbedder({ apiKey: secret, baseUrl: server.url });
    const error = await embedder.embed(["x"]).then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof GeminiApiError);
    assert.equal(error.message, "API key [REDACTED] not valid");
    assert.ok(error.cause instanceof ApiError);
    const everything = [
      error.message,
      String(error.stack),
      JSON.stringify(error.details),
      error.cause.message,
      String(error.cause.stack),
      Deno.inspect(error, { depth: 10 }),
      Deno.inspect(embedder, { depth: 10 }),
    ].join("\n");
    assert.ok(!everything.includes(secret), everything);
    assert.match(everything, /\[REDACTED\]/);
  } finally {
    await server.close();
  }
});

Deno.test("GeminiEmbedder rejects a reply with the wrong number of embeddings", async (t) => {
  const replies: [string, unknown, number][] = [
    ["one too few", { embeddings: [{ values: [1] }] }, 1],
    ["one too many", { embeddings: [{ values: [1] }, { values: [2] }, { values: [3] }] }, 3],
    ["an embedding without values", { embeddings: [{ values: [1] }, {}] }, 1],
    ["no embeddings at all", {}, 0],
  ];
  let reply: unknown;
  const server = serve(() => Response.json(reply));
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: server.url });
    for (const [name, body, received] of replies) {
      await t.step(name, async () => {
        reply = body;
        await assert.rejects(embedder.embed(["a", "b"]), (error) => {
          assert.ok(error instanceof EmbeddingCountError);
          assert.equal(error.expected, 2);
          assert.equal(error.received, received);
          assert.equal(
            error.message,
            `Cannot embed texts: expected 2 embeddings with values, received ${received}`,
          );
          return true;
        });
      });
    }
  } finally {
    await server.close();
  }
});

Deno.test("GeminiEmbedder rejects with the signal's reason when aborted during a call", async () => {
  const controller = new AbortController();
  const reason = new Error("caller gave up");
  const simulator = startSimulator({
    latencyMs: 3_600_000,
    onBatch: () => controller.abort(reason),
  });
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url });
    await assert.rejects(
      embedder.embed(["slow"], { signal: controller.signal }),
      (error) => error === reason,
    );
    assert.equal(simulator.stats.requests, 1);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder rejects an already-aborted signal without a call", async () => {
  const simulator = startSimulator();
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url });
    const reason = new Error("already cancelled");
    await assert.rejects(
      embedder.embed(["x"], { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    await assert.rejects(
      embedder.embed([], { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    assert.equal(simulator.stats.requests, 0);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder resolves no texts with no vectors and no call", async () => {
  const simulator = startSimulator();
  try {
    const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url });
    assert.deepEqual(await embedder.embed([]), []);
    assert.equal(simulator.stats.requests, 0);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder leaves no listeners on a long-lived signal", async () => {
  const simulator = startSimulator();
  try {
    const embedder = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      outputDimensionality: 2,
    });
    const { signal } = new AbortController();
    let listeners = 0;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    };
    signal.removeEventListener = (...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    };
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await embedder.embed([`call ${i}`], { signal }), [
        simulatedEmbedding(`call ${i}`, 2),
      ]);
    }
    assert.equal(listeners, 0);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder passes network failures through unchanged", async () => {
  const simulator = startSimulator();
  const url = simulator.url;
  await simulator.close();
  const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: url });
  await assert.rejects(embedder.embed(["x"]), TypeError);
});

Deno.test("GeminiEmbedder throws MissingApiKeyError without a key", async () => {
  await withEnv({ GEMINI_API_KEY: undefined, GOOGLE_API_KEY: undefined }, () => {
    assert.throws(() => new GeminiEmbedder(), (error) => {
      assert.ok(error instanceof MissingApiKeyError);
      assert.equal(error.name, "MissingApiKeyError");
      assert.match(error.message, /apiKey option or set the GEMINI_API_KEY or GOOGLE_API_KEY/);
      return true;
    });
    assert.throws(() => new GeminiEmbedder({ apiKey: "" }), MissingApiKeyError);
  });
  await withEnv({ GEMINI_API_KEY: "  ", GOOGLE_API_KEY: undefined }, () => {
    assert.throws(() => new GeminiEmbedder(), MissingApiKeyError);
  });
});

Deno.test("GeminiEmbedder reads the key from GOOGLE_API_KEY, else GEMINI_API_KEY", async () => {
  // Each simulator accepts only one key, so a success shows which key was sent.
  const gemini = startSimulator({ apiKeys: ["from-gemini"] });
  const google = startSimulator({ apiKeys: ["from-google"] });
  try {
    await withEnv({ GEMINI_API_KEY: "from-gemini", GOOGLE_API_KEY: undefined }, async () => {
      const embedder = new GeminiEmbedder({ baseUrl: gemini.url, outputDimensionality: 2 });
      assert.deepEqual(await embedder.embed(["x"]), [simulatedEmbedding("x", 2)]);
    });
    await withEnv({ GEMINI_API_KEY: "from-gemini", GOOGLE_API_KEY: "from-google" }, async () => {
      const embedder = new GeminiEmbedder({ baseUrl: google.url, outputDimensionality: 2 });
      assert.deepEqual(await embedder.embed(["y"]), [simulatedEmbedding("y", 2)]);
    });
    assert.deepEqual([gemini.stats.byStatus, google.stats.byStatus], [{ 200: 1 }, { 200: 1 }]);
  } finally {
    await gemini.close();
    await google.close();
  }
});

Deno.test("GeminiEmbedder lets the SDK read the base URL from GOOGLE_GEMINI_BASE_URL", async () => {
  const simulator = startSimulator();
  try {
    await withEnv({ GOOGLE_GEMINI_BASE_URL: simulator.url }, async () => {
      const embedder = new GeminiEmbedder({ apiKey: KEY, outputDimensionality: 3 });
      assert.deepEqual(await embedder.embed(["env"]), [simulatedEmbedding("env", 3)]);
    });
    assert.equal(simulator.stats.requests, 1);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder stays on the Gemini API when GOOGLE_GENAI_USE_VERTEXAI is set", async () => {
  const simulator = startSimulator();
  try {
    await withEnv({ GOOGLE_GENAI_USE_VERTEXAI: "true" }, async () => {
      const embedder = new GeminiEmbedder({
        apiKey: KEY,
        baseUrl: simulator.url,
        outputDimensionality: 3,
      });
      assert.deepEqual(await embedder.embed(["gemini"]), [simulatedEmbedding("gemini", 3)]);
    });
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder uses a given client without needing a key", async () => {
  const calls: unknown[] = [];
  const client: GeminiClient = {
    models: {
      embedContent(params) {
        calls.push(params);
        return Promise.resolve({ embeddings: params.contents.map(() => ({ values: [0.5] })) });
      },
    },
  };
  await withEnv({ GEMINI_API_KEY: undefined, GOOGLE_API_KEY: undefined }, async () => {
    const embedder = new GeminiEmbedder({
      client,
      model: "gemini-embedding-001",
      taskType: "CLUSTERING",
      normalize: false,
    });
    assert.deepEqual(await embedder.embed(["a", "b"]), [[0.5], [0.5]]);
  });
  assert.deepEqual(calls, [{
    model: "gemini-embedding-001",
    contents: [{ role: "user", parts: [{ text: "a" }] }, { role: "user", parts: [{ text: "b" }] }],
    config: { taskType: "CLUSTERING" },
  }]);

  const simulator = startSimulator();
  try {
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: simulator.url } });
    const embedder = new GeminiEmbedder({ client: ai, outputDimensionality: 4 });
    assert.deepEqual(await embedder.embed(["sdk"]), [simulatedEmbedding("sdk", 4)]);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder rejects invalid options", () => {
  for (const outputDimensionality of [0, -5, 2.5]) {
    assert.throws(() => new GeminiEmbedder({ apiKey: KEY, outputDimensionality }), {
      name: "RangeError",
      message:
        `Cannot create GeminiEmbedder: outputDimensionality must be a positive integer, received ${outputDimensionality}`,
    });
  }
  assert.throws(() => new GeminiEmbedder({ apiKey: KEY, model: "" }), {
    name: "TypeError",
    message: "Cannot create GeminiEmbedder: model must not be empty",
  });
});

Deno.test("GeminiEmbedder sends gemini-embedding-2 Google's instructions and never taskType or title", async (t) => {
  const { simulator, batches } = recordingSimulator();
  try {
    await t.step("queries and symmetric tasks get task: … | query: …", async () => {
      const cases = [
        ["RETRIEVAL_QUERY", "task: search result | query: q"],
        ["QUESTION_ANSWERING", "task: question answering | query: q"],
        ["FACT_VERIFICATION", "task: fact checking | query: q"],
        ["CODE_RETRIEVAL_QUERY", "task: code retrieval | query: q"],
        ["CLASSIFICATION", "task: classification | query: q"],
        ["CLUSTERING", "task: clustering | query: q"],
        ["SEMANTIC_SIMILARITY", "task: sentence similarity | query: q"],
      ] as const;
      for (const [taskType, sent] of cases) {
        batches.length = 0;
        const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url, taskType });
        const [vector] = await embedder.embed(["q"]);
        assert.deepEqual(batches[0]?.requests, [{ text: sent, dimensions: 3072 }], taskType);
        assert.deepEqual(vector, simulatedEmbedding(sent, 3072, "gemini-embedding-2"));
      }
    });
    await t.step("documents get title: … | text: …, title: none without one", async () => {
      batches.length = 0;
      const embedder = new GeminiEmbedder({
        apiKey: KEY,
        baseUrl: simulator.url,
        taskType: "RETRIEVAL_DOCUMENT",
        outputDimensionality: 8,
      });
      const vectors = await embedder.embedContents([
        { text: "Open Settings.", title: "Account help" },
        "Dogs bark.",
        { text: "Cats purr.", title: "Cats" },
      ]);
      assert.equal(batches.length, 1, "titles in the text: one call for all");
      assert.deepEqual(batches[0]?.requests, [
        { text: "title: Account help | text: Open Settings.", dimensions: 8 },
        { text: "title: none | text: Dogs bark.", dimensions: 8 },
        { text: "title: Cats | text: Cats purr.", dimensions: 8 },
      ]);
      assert.equal(vectors.length, 3);
    });
    await t.step("no task type: the text exactly as given", async () => {
      batches.length = 0;
      const embedder = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url });
      await embedder.embedContents(["  as | given ", { text: "x", title: "ignored" }]);
      assert.deepEqual(batches[0]?.requests, [
        { text: "  as | given ", dimensions: 3072 },
        { text: "x", dimensions: 3072 },
      ]);
    });
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder sends 001 taskType as a field, title only with RETRIEVAL_DOCUMENT, one call per title", async () => {
  const { simulator, batches } = recordingSimulator();
  try {
    const model = "gemini-embedding-001";
    const documents = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      model,
      taskType: "RETRIEVAL_DOCUMENT",
      outputDimensionality: 8,
    });
    const vectors = await documents.embedContents([
      { text: "a", title: "A" },
      "b",
      { text: "c", title: "A" },
    ]);
    // The SDK applies one config to a whole call: one call per distinct title.
    assert.deepEqual(batches.map((b) => b.requests), [
      [
        { text: "a", dimensions: 8, taskType: "RETRIEVAL_DOCUMENT", title: "A" },
        { text: "c", dimensions: 8, taskType: "RETRIEVAL_DOCUMENT", title: "A" },
      ],
      [{ text: "b", dimensions: 8, taskType: "RETRIEVAL_DOCUMENT" }],
    ]);
    assert.deepEqual(
      vectors,
      ["a", "b", "c"].map((t) => normalize(simulatedEmbedding(t, 8, model))),
    );

    batches.length = 0;
    const queries = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      model,
      taskType: "RETRIEVAL_QUERY",
    });
    await queries.embedContents([{ text: "q", title: "not a document" }]);
    assert.deepEqual(batches[0]?.requests, [{
      text: "q",
      dimensions: 3072,
      taskType: "RETRIEVAL_QUERY",
    }]);
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder returns unit-length vectors unless normalize is false", async () => {
  await using simulator = startSimulator();
  const model = "gemini-embedding-001";
  const normalized = new GeminiEmbedder({
    apiKey: KEY,
    baseUrl: simulator.url,
    model,
    outputDimensionality: 768,
  });
  const raw = new GeminiEmbedder({
    apiKey: KEY,
    baseUrl: simulator.url,
    model,
    outputDimensionality: 768,
    normalize: false,
  });
  const [unit] = await normalized.embed(["text"]);
  const [asReturned] = await raw.embed(["text"]);
  assert.ok(Math.abs(Math.hypot(...unit!) - 1) < 1e-12);
  // 001 below 3072 values comes back shorter than unit length, and is written as it came.
  assert.ok(Math.hypot(...asReturned!) < 0.9);
  assert.deepEqual(asReturned, simulatedEmbedding("text", 768, model));
  // gemini-embedding-2 is unit length already: normalising changes nothing.
  const v2 = new GeminiEmbedder({ apiKey: KEY, baseUrl: simulator.url, outputDimensionality: 768 });
  assert.deepEqual(await v2.embed(["text"]), [
    simulatedEmbedding("text", 768, "gemini-embedding-2"),
  ]);
});

Deno.test("GeminiEmbedder sends media as parts after the text, one content (one vector) per input", async () => {
  const { simulator, batches } = recordingSimulator();
  try {
    const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]);
    const pdf = new TextEncoder().encode("%PDF-1.4 /Type /Page");
    const file = (name: string, mimeType: string, bytes: Uint8Array) => ({
      name,
      mimeType,
      size: bytes.length,
      tokens: 258,
      read: () => Promise.resolve(bytes),
    });
    const embedder = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      taskType: "RETRIEVAL_DOCUMENT",
      outputDimensionality: 8,
    });
    const vectors = await embedder.embedContents([
      { text: "a cat", media: [file("cat.png", "image/png", png)] },
      { media: [file("doc.pdf", "application/pdf", pdf)] },
      "plain text",
    ]);
    assert.equal(vectors.length, 3);
    const requests = batches[0]!.requests;
    // No instruction on text that travels with media.
    assert.deepEqual(requests[0], {
      text: "a cat",
      dimensions: 8,
      media: [{ mimeType: "image/png", data: png }],
    });
    assert.deepEqual(requests[1], {
      text: "",
      dimensions: 8,
      media: [{ mimeType: "application/pdf", data: pdf }],
    });
    assert.equal(requests[2]?.text, "title: none | text: plain text");
    assert.deepEqual(
      vectors[0],
      simulatedContentEmbedding(
        { text: "a cat", media: [{ mimeType: "image/png", data: png }] },
        8,
      ),
    );
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder uploads large media through the Files API and deletes it after the call", async () => {
  const log: string[] = [];
  let sent: unknown;
  const client: GeminiClient = {
    models: {
      embedContent(params) {
        sent = params.contents;
        log.push("embed");
        return Promise.resolve({ embeddings: params.contents.map(() => ({ values: [3, 4] })) });
      },
    },
    files: {
      upload({ file, config }) {
        log.push(`upload ${file.size} ${config?.mimeType}`);
        return Promise.resolve({ name: "files/abc", uri: "https://files/abc", state: "ACTIVE" });
      },
      get: () => Promise.reject(new Error("not polled: the file is ACTIVE")),
      delete({ name }) {
        log.push(`delete ${name}`);
        return Promise.resolve({});
      },
    },
  };
  const size = 21 * 1024 * 1024; // over the 20 MB inline limit
  const embedder = new GeminiEmbedder({ client });
  const vectors = await embedder.embedContents([{
    text: "clip",
    media: [{
      name: "big.mp4",
      mimeType: "video/mp4",
      size,
      tokens: 2112,
      read: () => Promise.resolve(new Uint8Array(size)),
    }],
  }]);
  assert.deepEqual(vectors, [[0.6, 0.8]]);
  assert.deepEqual(log, [`upload ${size} video/mp4`, "embed", "delete files/abc"]);
  assert.deepEqual(sent, [{
    role: "user",
    parts: [{ text: "clip" }, {
      fileData: { mimeType: "video/mp4", fileUri: "https://files/abc" },
    }],
  }]);
});

Deno.test("GeminiEmbedder refuses media for gemini-embedding-001 before any call", async () => {
  let calls = 0;
  const client: GeminiClient = {
    models: {
      embedContent() {
        calls++;
        return Promise.resolve({ embeddings: [] });
      },
    },
  };
  const embedder = new GeminiEmbedder({ client, model: "gemini-embedding-001" });
  const image = {
    name: "a.png",
    mimeType: "image/png",
    size: 1,
    tokens: 1,
    read: () => Promise.resolve(new Uint8Array(1)),
  };
  await assert.rejects(embedder.embedContents([{ media: [image] }]), {
    name: "TypeError",
    message: "Cannot embed a.png: gemini-embedding-001 does not take image/png",
  });
  assert.equal(calls, 0);
});

Deno.test("GeminiEmbedder counts the task instruction and media in inputTokens and knows its model's limit", () => {
  const v2 = new GeminiEmbedder({ apiKey: KEY, taskType: "RETRIEVAL_DOCUMENT" });
  assert.equal(v2.maxInputTokens, 8192);
  assert.equal(v2.inputTokens("hello"), estimateTokens("title: none | text: hello"));
  const image = {
    name: "a.png",
    mimeType: "image/png",
    size: 1,
    tokens: 267,
    read: () => Promise.resolve(new Uint8Array(1)),
  };
  assert.equal(v2.inputTokens({ text: "hello", media: [image] }), estimateTokens("hello") + 267);
  const v1 = new GeminiEmbedder({
    apiKey: KEY,
    model: "gemini-embedding-001",
    taskType: "RETRIEVAL_DOCUMENT",
  });
  assert.equal(v1.maxInputTokens, 2048);
  assert.equal(v1.inputTokens("hello"), estimateTokens("hello"));
  assert.equal(new GeminiEmbedder({ apiKey: KEY, maxInputTokens: 100 }).maxInputTokens, 100);
});

Deno.test("GeminiEmbedder uploads a large file through the real SDK's Files API, embeds it as its bytes, then deletes it", async () => {
  const { simulator, batches } = recordingSimulator();
  try {
    const size = 21 * 1024 * 1024; // over the 20 MB inline limit
    const bytes = new Uint8Array(size);
    bytes[0] = 137;
    bytes[size - 1] = 7;
    const embedder = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      outputDimensionality: 8,
    });
    const [vector] = await embedder.embedContents([{
      text: "a big picture",
      media: [{
        name: "big.png",
        mimeType: "image/png",
        size,
        tokens: 267,
        read: () => Promise.resolve(bytes),
      }],
    }]);
    const sent = batches[0]!.requests[0]!.media![0]!;
    assert.match(sent.fileUri ?? "", /\/files\/[a-z0-9-]+$/, "sent as fileData, not inline");
    assert.deepEqual(
      vector,
      simulatedContentEmbedding({
        text: "a big picture",
        media: [{ mimeType: "image/png", data: bytes }],
      }, 8),
      "the same vector as the bytes inline",
    );
    assert.equal(simulator.batch.stats.filesUploaded, 1);
    assert.equal(simulator.batch.stats.filesDeleted, 1, "deleted after the call");
  } finally {
    await simulator.close();
  }
});

Deno.test("EmbeddingBatcher over GeminiEmbedder: per-caller titles, the model's instructions, one call", async () => {
  const { simulator, batches } = recordingSimulator();
  try {
    const embedder = new GeminiEmbedder({
      apiKey: KEY,
      baseUrl: simulator.url,
      taskType: "RETRIEVAL_DOCUMENT",
      outputDimensionality: 4,
    });
    await using batcher = new EmbeddingBatcher({ embedder, timeout: "20ms" });
    const vectors = await Promise.all([
      batcher.embed({ text: "body", title: "One" }),
      batcher.embed({ text: "body", title: "Two" }),
      batcher.embed({ text: "body", title: "One" }), // shares the first caller's slot
      batcher.embed("body"),
    ]);
    assert.deepEqual(batches.map((b) => b.requests.map((r) => r.text)), [[
      "title: One | text: body",
      "title: Two | text: body",
      "title: none | text: body",
    ]]);
    assert.deepEqual(vectors[0], vectors[2]);
    assert.notDeepEqual(vectors[0], vectors[1]);
    assert.deepEqual(vectors[3], simulatedEmbedding("title: none | text: body", 4));
  } finally {
    await simulator.close();
  }
});

Deno.test("GeminiEmbedder waits for an uploaded file to become ACTIVE, and deletes it when aborted", async () => {
  using time = new FakeTime();
  const log: string[] = [];
  let polls = 0;
  const client: GeminiClient = {
    models: {
      embedContent(params) {
        log.push("embed");
        return Promise.resolve({ embeddings: params.contents.map(() => ({ values: [1, 0] })) });
      },
    },
    files: {
      upload: () => Promise.resolve({ name: "files/v", uri: "u", state: "PROCESSING" }),
      get() {
        log.push("get");
        return Promise.resolve({
          name: "files/v",
          uri: "u",
          state: ++polls < 2 ? "PROCESSING" : "ACTIVE",
        });
      },
      delete({ name }) {
        log.push(`delete ${name}`);
        return Promise.resolve({});
      },
    },
  };
  const size = 21 * 1024 * 1024;
  const video = {
    name: "v.mp4",
    mimeType: "video/mp4",
    size,
    tokens: 1,
    read: () => Promise.resolve(new Uint8Array(size)),
  };
  const embedder = new GeminiEmbedder({ client });
  assert.deepEqual(await time.until(embedder.embedContents([{ media: [video] }])), [[1, 0]]);
  assert.deepEqual(log, ["get", "get", "embed", "delete files/v"]);

  log.length = 0;
  polls = -100; // stays PROCESSING
  const controller = new AbortController();
  const aborted = embedder.embedContents([{ media: [video] }], { signal: controller.signal });
  await time.tick(1500, true); // stepwise: the poll's timers are made along the way
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(aborted, (error) => error === reason);
  assert.ok(!log.includes("embed"));
  assert.equal(log.at(-1), "delete files/v", "the upload is deleted even when the call is aborted");
});
