import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { FakeTime } from "../internal/fake_time.ts";
import { CacheFileError } from "./file_error.ts";
import { EmbeddingCache, ENTRY_OVERHEAD_BYTES } from "./embedding_cache.ts";
import { cacheKey } from "./key.ts";

const WRITER = new URL("./testdata/writer.ts", import.meta.url).pathname;
const context = { model: "test", dimensions: 4 };
const key = (text: string) => cacheKey(context, text);

async function tempPath(): Promise<string> {
  return `${await Deno.makeTempDir({ prefix: "embatch-cache-" })}/cache.sqlite`;
}

Deno.test("EmbeddingCache returns stored vectors for hits and undefined for misses, counting both", async () => {
  using cache = new EmbeddingCache(await tempPath());
  cache.putMany([
    { key: key("a"), vector: [1, 2, 3, 4] },
    { key: key("b"), vector: [0.1, 0.2, 0.3, 0.4] },
  ]);
  const [a, missing, b] = cache.getMany([key("a"), key("c"), key("b")]);
  assert.deepEqual(Array.from(a!), [1, 2, 3, 4]);
  assert.equal(missing, undefined);
  assert.deepEqual(Array.from(b!), [0.1, 0.2, 0.3, 0.4].map(Math.fround));
  const stats = cache.stats();
  assert.equal(stats.hits, 2);
  assert.equal(stats.misses, 1);
  assert.equal(stats.written, 2);
  assert.equal(stats.entries, 2);
  assert.equal(stats.bytes, 2 * (16 + ENTRY_OVERHEAD_BYTES));
});

Deno.test("EmbeddingCache keeps its entries when the file is closed and opened again", async () => {
  const path = await tempPath();
  {
    using cache = new EmbeddingCache(path);
    cache.putMany([{ key: key("kept"), vector: [9, 8, 7, 6] }]);
  }
  using cache = new EmbeddingCache(path);
  assert.deepEqual(Array.from(cache.getMany([key("kept")])[0]!), [9, 8, 7, 6]);
  assert.equal(cache.stats().entries, 1);
});

Deno.test("EmbeddingCache tells apart keys that differ only in their last bit", async () => {
  using cache = new EmbeddingCache(await tempPath());
  const first = key("x");
  const twin = first.slice();
  twin[31] = twin[31]! ^ 1;
  cache.putMany([{ key: first, vector: [1] }]);
  assert.deepEqual(cache.getMany([twin]), [undefined]);
  cache.putMany([{ key: twin, vector: [2] }]);
  assert.deepEqual(cache.getMany([first, twin]).map((v) => Array.from(v!)), [[1], [2]]);
  assert.equal(cache.stats().entries, 2);
});

Deno.test("EmbeddingCache rejects bad arguments and use after close", async () => {
  assert.throws(() => new EmbeddingCache(":memory:", { maxSize: -1 }), RangeError);
  assert.throws(() => new EmbeddingCache(":memory:", { busyTimeout: 1.5 }), RangeError);
  const cache = new EmbeddingCache(await tempPath());
  assert.throws(() => cache.getMany([new Uint8Array(8)]), /expected 32 bytes, received 8/);
  cache.close();
  cache.close();
  assert.throws(() => cache.putMany([]), /Cannot write cache .*: it is closed/);
});

Deno.test("EmbeddingCache evicts the least recently used entries past maxSize", async () => {
  using time = new FakeTime(1_000);
  const entry = 16 + ENTRY_OVERHEAD_BYTES;
  using cache = new EmbeddingCache(await tempPath(), { maxSize: 3 * entry, touchInterval: 0 });
  for (const text of ["a", "b", "c"]) {
    cache.putMany([{ key: key(text), vector: [1, 2, 3, 4] }]);
    await time.tick(10);
  }
  // Reading "a" makes "b" the least recently used.
  assert.notEqual(cache.getMany([key("a")])[0], undefined);
  await time.tick(10);
  cache.putMany([{ key: key("d"), vector: [1, 2, 3, 4] }]);
  const found = cache.getMany(["a", "b", "c", "d"].map(key)).map((v) => v !== undefined);
  assert.deepEqual(found, [true, false, true, true]);
  const stats = cache.stats();
  assert.equal(stats.evicted, 1);
  assert.equal(stats.entries, 3);
  assert.ok(stats.bytes <= 3 * entry);

  // A batch larger than the bound keeps only its most recent entries' worth.
  await time.tick(10);
  cache.putMany(["e", "f", "g", "h", "i"].map((t) => ({ key: key(t), vector: [0, 0, 0, 0] })));
  assert.equal(cache.stats().entries, 3);
  assert.equal(cache.stats().bytes, 3 * entry);
});

Deno.test("EmbeddingCache refuses a file that is not SQLite, without touching it", async () => {
  const path = await tempPath();
  const text = "id,text\n1,not a database\n".repeat(200);
  await Deno.writeTextFile(path, text);
  assert.throws(
    () => new EmbeddingCache(path),
    (error) =>
      error instanceof CacheFileError && error.reason === "not-a-database" &&
      error.message === `Cannot use cache file ${path}: it is not an SQLite database`,
  );
  assert.equal(await Deno.readTextFile(path), text);
});

Deno.test("EmbeddingCache refuses another application's SQLite database", async (t) => {
  await t.step("with tables", async () => {
    const path = await tempPath();
    const other = new DatabaseSync(path);
    other.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')");
    other.close();
    assert.throws(
      () => new EmbeddingCache(path),
      (error) => error instanceof CacheFileError && error.reason === "foreign",
    );
    const check = new DatabaseSync(path);
    assert.deepEqual({ ...check.prepare("SELECT body FROM notes").get() }, { body: "mine" });
    check.close();
  });
  await t.step("with another application_id", async () => {
    const path = await tempPath();
    const other = new DatabaseSync(path);
    other.exec("PRAGMA application_id = 42");
    other.close();
    assert.throws(
      () => new EmbeddingCache(path),
      /Cannot use cache file .*: it is an SQLite database of another application \(application_id 42\)/,
    );
  });
});

Deno.test("EmbeddingCache refuses an embatch cache of another format version", async () => {
  const path = await tempPath();
  new EmbeddingCache(path).close();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA user_version = 99");
  db.close();
  assert.throws(
    () => new EmbeddingCache(path),
    (error) =>
      error instanceof CacheFileError && error.reason === "version" &&
      /format 99, this version reads format 1/.test(error.message),
  );
});

Deno.test("EmbeddingCache reports a damaged file as CacheFileError, not a crash", async () => {
  const path = await tempPath();
  {
    using cache = new EmbeddingCache(path);
    for (let b = 0; b < 20; b++) {
      cache.putMany(Array.from({ length: 50 }, (_, i) => ({
        key: key(`${b}:${i}`),
        vector: new Array(64).fill(b),
      })));
    }
  }
  // Overwrite the pages after the header with garbage.
  const bytes = await Deno.readFile(path);
  for (let i = 4096; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  await Deno.writeFile(path, bytes);
  assert.throws(
    () => {
      using cache = new EmbeddingCache(path);
      cache.getMany(Array.from({ length: 50 }, (_, i) => key(`3:${i}`)));
    },
    (error) =>
      error instanceof CacheFileError && error.reason === "corrupt" &&
      /the file is damaged: database disk image is malformed/.test(error.message),
  );
});

function startWriter(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", WRITER, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
}

Deno.test("EmbeddingCache is shared by two processes writing and reading one file at once", async () => {
  const path = await tempPath();
  new EmbeddingCache(path).close();
  const batches = 150;
  const size = 20;
  const a = startWriter([path, "a", String(batches), String(size), "b"]);
  const b = startWriter([path, "b", String(batches), String(size), "a"]);
  const [outA, outB] = await Promise.all([a.output(), b.output()]);
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(outA.code, 0, decode(outA.stderr));
  assert.equal(outB.code, 0, decode(outB.stderr));
  assert.match(decode(outA.stdout), new RegExp(`met b\\n[\\s\\S]*committed ${batches}\\n`));
  assert.match(decode(outB.stdout), new RegExp(`met a\\n[\\s\\S]*committed ${batches}\\n`));
  using cache = new EmbeddingCache(path);
  assert.equal(cache.stats().entries, 2 * batches * size);
  for (const name of ["a", "b"]) {
    const i = batches * size - 1;
    assert.deepEqual(Array.from(cache.getMany([key(`${name}:${i}`)])[0]!), [i, i + 0.5, -i, 1]);
  }
});

Deno.test("EmbeddingCache keeps every committed batch when its writer is killed with SIGKILL", async () => {
  const path = await tempPath();
  const size = 50;
  const writer = startWriter([path, "k", "0", String(size)]);
  // Read progress lines until enough batches are committed, then kill -9.
  const reader = writer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let committed = 0;
  while (committed < 40) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    committed = Number(/committed (\d+)\n(?![\s\S]*committed)/.exec(text)?.[1] ?? 0);
  }
  writer.kill("SIGKILL");
  reader.releaseLock();
  await writer.stdout.cancel().catch(() => {});
  await writer.stderr.cancel();
  const status = await writer.status;
  assert.equal(status.signal, "SIGKILL");
  assert.ok(committed >= 40, text);

  using cache = new EmbeddingCache(path);
  const { entries } = cache.stats();
  // Every batch the writer reported, and whole batches only.
  assert.ok(entries >= committed * size, `${entries} entries after ${committed} batches`);
  assert.equal(entries % size, 0);
  const all = cache.getMany(Array.from({ length: entries }, (_, i) => key(`k:${i}`)));
  all.forEach((vector, i) => assert.deepEqual(Array.from(vector!), [i, i + 0.5, -i, 1]));
  // And it goes on working.
  cache.putMany([{ key: key("after"), vector: [1, 2, 3, 4] }]);
  assert.equal(cache.stats().entries, entries + 1);
});

Deno.test("EmbeddingCache writes a hit's last-used time at most once per touchInterval", async () => {
  using time = new FakeTime(1_000);
  const path = await tempPath();
  using cache = new EmbeddingCache(path, { touchInterval: 60_000 });
  cache.putMany([{ key: key("a"), vector: [1] }]);
  const usedAt = () => {
    const db = new DatabaseSync(path);
    try {
      return Number(db.prepare("SELECT used_at FROM usage").get()!.used_at);
    } finally {
      db.close();
    }
  };
  await time.tick(30_000);
  cache.getMany([key("a")]);
  cache.flush();
  assert.equal(usedAt(), 1_000);
  await time.tick(30_000);
  cache.getMany([key("a")]);
  cache.flush();
  assert.equal(usedAt(), 61_000);
});
