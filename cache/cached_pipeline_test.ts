import assert from "node:assert/strict";
import { apiFloat } from "../internal/float32.ts";
import { FakeTime } from "../internal/fake_time.ts";
import type { Embedder } from "../embedder.ts";
import { runCachedPipeline } from "./cached_pipeline.ts";
import { EmbeddingCache } from "./embedding_cache.ts";

/** Records every call; the vector of "tN" is [N, N / 3]. */
function recording(): Embedder & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    embed(texts) {
      calls.push([...texts]);
      return Promise.resolve(texts.map((t) => {
        const n = Number(t.slice(1));
        return [n, n / 3];
      }));
    },
  };
}

async function tempCache(): Promise<EmbeddingCache> {
  return new EmbeddingCache(`${await Deno.makeTempDir({ prefix: "embatch-cache-" })}/c.sqlite`);
}

const context = { model: "test", dimensions: 2 };
const texts = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `t${from + i}`);

Deno.test("runCachedPipeline writes hits and misses in input order; hits take no batch slot", async () => {
  using cache = await tempCache();
  const first = recording();
  await runCachedPipeline({
    inputs: texts(0, 500).filter((_, i) => i % 5 !== 0), // 400 texts
    embedder: first,
    cache,
    context,
    batchSize: 100,
    write: () => {},
  });
  assert.equal(first.calls.length, 4);

  const second = recording();
  const out: { text: string; cached: boolean; index: number; v: number[] }[] = [];
  const summary = await runCachedPipeline({
    inputs: texts(0, 500),
    embedder: second,
    cache,
    context,
    batchSize: 100,
    lookupBatch: 64,
    write: (r) => {
      assert.ok(r.ok);
      out.push({ text: r.text, cached: r.cached, index: r.index, v: r.embedding });
    },
  });
  assert.deepEqual(out.map((o) => o.text), texts(0, 500));
  assert.deepEqual(out.map((o) => o.index), texts(0, 500).map((_, i) => i));
  out.forEach((o, i) => {
    assert.equal(o.cached, i % 5 !== 0, o.text);
    assert.deepEqual(o.v, [i, apiFloat(i / 3)]);
  });
  // Only the 100 new texts went upstream, in one full batch.
  assert.deepEqual(second.calls, [texts(0, 500).filter((_, i) => i % 5 === 0)]);
  assert.equal(summary.hits, 400);
  assert.equal(summary.misses, 100);
  assert.equal(summary.calls, 1);
  assert.equal(cache.stats().entries, 500);
});

Deno.test("runCachedPipeline sends a text repeated while it is in flight once", async () => {
  using cache = await tempCache();
  const embedder = recording();
  const out: string[] = [];
  const summary = await runCachedPipeline({
    inputs: ["t1", "t2", "t1", "t3", "t1", "t2"],
    embedder,
    cache,
    context,
    batchSize: 10,
    write: (r) => void out.push(`${r.text}=${r.embedding?.[0]}`),
  });
  assert.deepEqual(out, ["t1=1", "t2=2", "t1=1", "t3=3", "t1=1", "t2=2"]);
  assert.deepEqual(embedder.calls, [["t1", "t2", "t3"]]);
  assert.equal(summary.misses, 6);
  assert.equal(summary.shared, 3);
  assert.equal(summary.hits, 0);
});

Deno.test("runCachedPipeline caches neither errors nor truncated vectors", async () => {
  using cache = await tempCache();
  const run = async (inputs: string[], truncate = false) => {
    const out: string[] = [];
    await runCachedPipeline({
      inputs,
      embedder: recording(),
      cache,
      context,
      maxInputTokens: 10,
      truncate,
      write: (r) => void out.push(r.ok ? `${r.text}:${r.cached}:${r.truncated}` : r.error.code),
    });
    return out;
  };
  const long = `t7${" ".repeat(100)}`;
  assert.deepEqual(await run(["t1", "", long]), ["t1:false:false", "EMPTY_TEXT", "TOKEN_LIMIT"]);
  assert.equal(cache.stats().entries, 1);
  assert.deepEqual(await run(["t1", ""]), ["t1:true:false", "EMPTY_TEXT"]);
  // A vector of a cut text is not the text's vector: it is not kept either.
  assert.deepEqual(await run([long], true), [`${long}:false:true`]);
  assert.deepEqual(await run([long], true), [`${long}:false:true`]);
  assert.equal(cache.stats().entries, 1);
});

Deno.test("runCachedPipeline pauses reading at maxHeldBytes until the batcher's timeout sends the input ahead", async () => {
  using time = new FakeTime();
  using cache = await tempCache();
  await runCachedPipeline({
    inputs: texts(1, 50),
    embedder: recording(),
    cache,
    context,
    write: () => {},
  });
  const embedder = recording();
  const out: string[] = [];
  let read = 0;
  async function* inputs() {
    for (const text of ["t0", ...texts(1, 50)]) {
      read++;
      yield text;
    }
  }
  const run = runCachedPipeline({
    inputs: inputs(),
    embedder,
    cache,
    context,
    batchSize: 10,
    timeout: "1s",
    lookupBatch: 8,
    maxHeldBytes: 8 * 8, // 8 vectors of 2 float32
    write: (r) => void out.push(r.text),
  });
  await time.tick(999);
  // "t0" waits in the batcher; 8 hits are held behind it; reading paused.
  assert.equal(out.length, 0);
  assert.ok(read <= 16, `read ${read}`);
  const summary = await time.until(run);
  assert.deepEqual(out, ["t0", ...texts(1, 50)]);
  assert.deepEqual(embedder.calls, [["t0"]]);
  assert.equal(summary.hits, 49);
});

Deno.test("runCachedPipeline rejects bad options", async () => {
  using cache = await tempCache();
  await assert.rejects(
    runCachedPipeline({
      inputs: [],
      embedder: recording(),
      cache,
      context,
      lookupBatch: 0,
      write: () => {},
    }),
    RangeError,
  );
});

Deno.test("runCachedPipeline writes the hits of a slow source without waiting for a full lookup batch", async () => {
  using cache = await tempCache();
  await runCachedPipeline({
    inputs: texts(1, 4),
    embedder: recording(),
    cache,
    context,
    write: () => {},
  });
  const out: string[] = [];
  let wroteThree: () => void = () => {};
  const three = new Promise<void>((resolve) => wroteThree = resolve);
  async function* slow() {
    yield* texts(1, 4);
    // The next input comes only once the first three are written.
    let guard: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      three,
      new Promise((_, reject) => {
        guard = setTimeout(() => reject(new Error("the hits were held back")), 5_000);
      }),
    ]).finally(() => clearTimeout(guard));
    yield "t4";
  }
  const summary = await runCachedPipeline({
    inputs: slow(),
    embedder: recording(),
    cache,
    context,
    lookupBatch: 256,
    write: (r) => {
      out.push(r.text);
      if (out.length === 3) wroteThree();
    },
  });
  assert.deepEqual(out, ["t1", "t2", "t3", "t4"]);
  assert.equal(summary.hits, 3);
});

Deno.test("runCachedPipeline rejects, not hangs, when a write fails while reading is paused", async () => {
  using time = new FakeTime();
  using cache = await tempCache();
  await runCachedPipeline({
    inputs: texts(1, 50),
    embedder: recording(),
    cache,
    context,
    write: () => {},
  });
  const failure = new Error("disk full");
  const run = runCachedPipeline({
    inputs: ["t0", ...texts(1, 50)],
    embedder: recording(),
    cache,
    context,
    batchSize: 10,
    timeout: "1s",
    lookupBatch: 8,
    maxHeldBytes: 8,
    write: () => {
      throw failure;
    },
  });
  await assert.rejects(time.until(run, 100), (error) => error === failure);
});

Deno.test("runCachedPipeline keys a content with its title, and never caches a content with media", async () => {
  using cache = await tempCache();
  const sent: unknown[] = [];
  const embedder: Embedder = {
    embed: (texts) => Promise.resolve(texts.map(() => [1, 1])),
    embedContents(inputs) {
      sent.push(...inputs);
      return Promise.resolve(inputs.map(() => [1, 1]));
    },
  };
  const image = {
    mimeType: "image/png",
    size: 3,
    tokens: 10,
    name: "a.png",
    read: () => Promise.resolve(new Uint8Array(3)),
  };
  const inputs = () => [
    { text: "t1", title: "A" },
    { text: "t1", title: "B" },
    { text: "t1", media: [image] },
  ];
  const run = () => {
    const out: string[] = [];
    return runCachedPipeline({
      inputs: inputs(),
      embedder,
      cache,
      context,
      text: (input) => input,
      write: (r) => void out.push(`${r.text}:${r.cached}:${r.key === undefined ? "-" : "k"}`),
    }).then(() => out);
  };
  assert.deepEqual(await run(), ["t1:false:k", "t1:false:k", "t1:false:-"]);
  assert.equal(sent.length, 3);
  assert.deepEqual(await run(), ["t1:true:k", "t1:true:k", "t1:false:-"]);
  assert.equal(sent.length, 4);
  assert.equal(cache.stats().entries, 2);
});
