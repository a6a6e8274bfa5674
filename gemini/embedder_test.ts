import assert from "node:assert/strict";
import { ApiError, GoogleGenAI } from "@google/genai";
import { type GeminiClient, GeminiEmbedder } from "./embedder.ts";
import { normalize } from "./normalize.ts";
import { EmbeddingCountError, GeminiApiError, MissingApiKeyError } from "../errors.ts";
import { type SimulatedBatch, simulatedEmbedding, startSimulator } from "../simulator/server.ts";

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
