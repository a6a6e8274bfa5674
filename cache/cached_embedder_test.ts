import assert from "node:assert/strict";
import { apiFloat } from "../internal/float32.ts";
import type { Embedder } from "../embedder.ts";
import { EmbeddingCountError } from "../errors.ts";
import { CachedEmbedder } from "./cached_embedder.ts";
import { EmbeddingCache } from "./embedding_cache.ts";

/** An embedder that records what it is sent; vector = [length, first char code]. */
function recording(): Embedder & { sent: string[][] } {
  const sent: string[][] = [];
  return {
    sent,
    embed(texts) {
      sent.push([...texts]);
      return Promise.resolve(texts.map((t) => [t.length, t.charCodeAt(0) / 3]));
    },
  };
}

async function tempCache(): Promise<EmbeddingCache> {
  return new EmbeddingCache(`${await Deno.makeTempDir({ prefix: "embatch-cache-" })}/c.sqlite`);
}

Deno.test("CachedEmbedder answers hits from the cache and sends only misses upstream", async () => {
  using cache = await tempCache();
  const upstream = recording();
  const embedder = new CachedEmbedder(upstream, cache, { model: "m", dimensions: 2 });
  const first = await embedder.embed(["alpha", "beta"]);
  const second = await embedder.embed(["gamma", "alpha", "beta", "delta"]);
  assert.deepEqual(upstream.sent, [["alpha", "beta"], ["gamma", "delta"]]);
  assert.deepEqual(second[1], first[0]);
  assert.deepEqual(second[2], first[1]);
  assert.deepEqual(second[0], [5, apiFloat("g".charCodeAt(0) / 3)]);
  assert.deepEqual(embedder.stats, { hits: 2, misses: 4, upstreamTexts: 4, upstreamCalls: 2 });
});

Deno.test("CachedEmbedder returns the same numbers for a miss and a later hit, with the API's digits", async () => {
  using cache = await tempCache();
  const embedder = new CachedEmbedder(recording(), cache, { model: "m" });
  const [miss] = await embedder.embed(["x"]);
  const [hit] = await embedder.embed(["x"]);
  assert.deepEqual(hit, miss);
  assert.equal(miss![1], apiFloat("x".charCodeAt(0) / 3));
});

Deno.test("CachedEmbedder sends a text repeated within a call once", async () => {
  using cache = await tempCache();
  const upstream = recording();
  const embedder = new CachedEmbedder(upstream, cache, { model: "m" });
  const vectors = await embedder.embed(["same", "other", "same", "same"]);
  assert.deepEqual(upstream.sent, [["same", "other"]]);
  assert.deepEqual(vectors[0], vectors[2]);
  assert.deepEqual(vectors[0], vectors[3]);
  assert.notEqual(vectors[0], vectors[2], "each position gets its own array");
  assert.equal(cache.stats().entries, 2);
});

Deno.test("CachedEmbedder keeps models apart in one cache file", async () => {
  using cache = await tempCache();
  const a = recording();
  const b = recording();
  await new CachedEmbedder(a, cache, { model: "one" }).embed(["t"]);
  await new CachedEmbedder(b, cache, { model: "two" }).embed(["t"]);
  await new CachedEmbedder(b, cache, { model: "two", taskType: "RETRIEVAL_QUERY" }).embed(["t"]);
  assert.equal(a.sent.length, 1);
  assert.equal(b.sent.length, 2);
  assert.equal(cache.stats().entries, 3);
});

Deno.test("CachedEmbedder writes nothing when the upstream call fails, and passes the error on", async () => {
  using cache = await tempCache();
  const failure = new Error("upstream down");
  const failing: Embedder = { embed: () => Promise.reject(failure) };
  const embedder = new CachedEmbedder(failing, cache, { model: "m" });
  await assert.rejects(embedder.embed(["x"]), (error) => error === failure);
  assert.equal(cache.stats().entries, 0);
  const short: Embedder = { embed: () => Promise.resolve([]) };
  await assert.rejects(
    new CachedEmbedder(short, cache, { model: "m" }).embed(["x", "y"]),
    EmbeddingCountError,
  );
  assert.equal(cache.stats().entries, 0);
});

Deno.test("CachedEmbedder rejects with the signal's reason when already aborted", async () => {
  using cache = await tempCache();
  const upstream = recording();
  const reason = new Error("stop");
  await assert.rejects(
    new CachedEmbedder(upstream, cache, { model: "m" }).embed(["x"], {
      signal: AbortSignal.abort(reason),
    }),
    (error) => error === reason,
  );
  assert.equal(upstream.sent.length, 0);
});

Deno.test("CachedEmbedder passes on embedContents and the wrapped embedder's limits", async () => {
  using cache = await tempCache();
  const sent: unknown[][] = [];
  const inner: Embedder = {
    embed: (texts) => Promise.resolve(texts.map(() => [0])),
    embedContents(inputs) {
      sent.push([...inputs]);
      return Promise.resolve(inputs.map((_, i) => [i]));
    },
    maxInputTokens: 8192,
    inputTokens: () => 7,
    callGroup: (input) => typeof input === "string" ? "" : input.taskType ?? "",
  };
  const embedder = new CachedEmbedder(inner, cache, { model: "m" });
  assert.equal(embedder.maxInputTokens, 8192);
  assert.equal(embedder.inputTokens!("x"), 7);
  assert.equal(embedder.callGroup!({ text: "x", taskType: "RETRIEVAL_QUERY" }), "RETRIEVAL_QUERY");
  await embedder.embedContents!([{ text: "doc", title: "One" }, { text: "doc", title: "Two" }]);
  await embedder.embedContents!([{ text: "doc", title: "Two" }, "doc"]);
  assert.deepEqual(sent, [[{ text: "doc", title: "One" }, { text: "doc", title: "Two" }], ["doc"]]);
  assert.equal(embedder.stats.hits, 1);
  assert.equal(new CachedEmbedder(recording(), cache, { model: "m" }).embedContents, undefined);
});
