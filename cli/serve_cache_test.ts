// `main.ts serve --cache`, in process against a simulator whose calls are counted.
import assert from "node:assert/strict";
import { normalize } from "../gemini/normalize.ts";
import { apiFloats } from "../internal/float32.ts";
import { runServe } from "./serve.ts";
import { simulatedEmbedding, startSimulator } from "../simulator/mod.ts";

Deno.test("serve --cache answers a text it has embedded from the cache, across restarts", async () => {
  await using simulator = startSimulator();
  const path = `${await Deno.makeTempDir({ prefix: "embatch-serve-cache-" })}/c.sqlite`;
  const serve = async (texts: string[]) => {
    const stop = new AbortController();
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: (line: string) => void out.push(line),
      stderr: (line: string) => void err.push(line),
      env: (name: string) => name === "GEMINI_API_KEY" ? "key" : undefined,
      signal: stop.signal,
    };
    const running = runServe(
      ["--base-url", simulator.url, "--timeout", "1ms", "--cache", path],
      io,
    );
    for (let i = 0; i < 10_000 && out.length === 0; i++) {
      await new Promise((resolve) => queueMicrotask(() => resolve(null)));
    }
    const url = out[0]!.replace("listening on ", "");
    const vectors: number[][] = [];
    for (const text of texts) {
      const response = await fetch(`${url}/v1/embeddings`, {
        method: "POST",
        body: JSON.stringify({ model: "gemini-embedding-001", input: text, dimensions: 4 }),
      });
      assert.equal(response.status, 200);
      vectors.push((await response.json()).data[0].embedding);
    }
    stop.abort();
    assert.equal(await running, 0);
    return { vectors, err };
  };
  // Through the cache every vector is a float32, written as the API writes one.
  const expected = (text: string) =>
    apiFloats(Float32Array.from(normalize(simulatedEmbedding(text, 4, "gemini-embedding-001"))));

  const first = await serve(["alpha", "beta", "alpha"]);
  assert.deepEqual(first.vectors, ["alpha", "beta", "alpha"].map(expected));
  assert.equal(simulator.stats.requests, 2);
  assert.match(first.err.join("\n"), /cache .*c\.sqlite: 1 hits, 2 misses, 2 vectors/);

  const second = await serve(["beta", "gamma"]);
  assert.deepEqual(second.vectors, ["beta", "gamma"].map(expected));
  assert.equal(simulator.stats.requests, 3);
});

Deno.test("serve refuses --cache-max-size without --cache and a foreign cache file, before binding", async () => {
  const err: string[] = [];
  const io = {
    stdout: () => {},
    stderr: (line: string) => void err.push(line),
    env: () => "key",
  };
  assert.equal(await runServe(["--simulate", "--cache-max-size", "1MB"], io), 2);
  assert.match(err.join("\n"), /--cache-max-size needs --cache/);
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, "not a database ".repeat(100));
  assert.equal(await runServe(["--simulate", "--cache", path], io), 2);
  assert.match(err.join("\n"), /it is not an SQLite database/);
});
