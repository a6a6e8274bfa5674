import assert from "node:assert/strict";
import { prepareResume } from "./resume.ts";

async function withFile(content: string, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/out.jsonl`;
  try {
    await Deno.writeTextFile(path, content);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ok = (id: unknown, v = [1, 0]) => JSON.stringify({ id, embedding: v }) + "\n";
const err = (id: unknown) => JSON.stringify({ id, error: { code: "X", message: "m" } }) + "\n";

Deno.test("prepareResume collects embedded ids and leaves a clean file alone", async () => {
  const content = ok(0) + ok("a") + ok(2);
  await withFile(content, async (path) => {
    const state = await prepareResume(path, { dimensions: 2 });
    assert.deepEqual(
      [state.exists, state.embedded, state.errors, state.tornBytes, state.compacted],
      [true, 3, 0, 0, false],
    );
    assert.ok(state.done.has(0) && state.done.has("a") && state.done.has(2));
    assert.ok(!state.done.has(1) && !state.done.has("0"));
    assert.equal(await Deno.readTextFile(path), content);
  });
});

Deno.test("prepareResume truncates a torn last line, even one that parses", async (t) => {
  for (const tail of ['{"id":9,"embe', '{"id":9,"embedding":[1,0]}', "\u00e9".slice(0, 1)]) {
    await t.step(JSON.stringify(tail), async () => {
      await withFile(ok(0) + tail, async (path) => {
        const state = await prepareResume(path);
        assert.equal(state.tornBytes, new TextEncoder().encode(tail).length);
        assert.ok(!state.done.has(9));
        assert.equal(await Deno.readTextFile(path), ok(0));
      });
    });
  }
});

Deno.test("prepareResume drops error records and repeats so that they are retried", async () => {
  await withFile(ok(0) + err(1) + ok(2) + ok(0) + err(3) + ok(4).slice(0, 5), async (path) => {
    const state = await prepareResume(path);
    assert.deepEqual(
      [state.embedded, state.errors, state.duplicates, state.compacted, state.dimensions],
      [2, 2, 1, true, 2],
    );
    assert.ok(!state.done.has(1) && !state.done.has(3) && !state.done.has(4));
    assert.equal(await Deno.readTextFile(path), ok(0) + ok(2));
    const entries = await Array.fromAsync(Deno.readDir(path.replace(/\/[^/]*$/, "")));
    assert.deepEqual(entries.map((e) => e.name), ["out.jsonl"]);
  });
});

Deno.test("prepareResume refuses a file it did not write, naming the line, and leaves it", async (t) => {
  const cases: [string, RegExp][] = [
    [ok(0) + "hello\n" + ok(1), /line 2 is not valid JSON/],
    [ok(0) + "[1]\n", /line 2 is not a JSON object/],
    [ok(0) + '{"embedding":[1]}\n', /line 2 has no "id"/],
    [ok(0) + '{"id":1}\n', /line 2 has neither "embedding" nor "error"/],
    [ok(0) + '{"id":1,"embedding":["a"]}\n', /line 2 has an "embedding" that is not all numbers/],
    [ok(0) + ok(1, [1, 2, 3]), /line 2 has a vector of 3 values, not the 2 of line 1/],
  ];
  for (const [content, message] of cases) {
    await t.step(message.source, async () => {
      await withFile(content + "torn", async (path) => {
        await assert.rejects(prepareResume(path), message);
        assert.equal(await Deno.readTextFile(path), content + "torn");
      });
    });
  }
  await t.step("vectors of another length than --dimensions", async () => {
    await withFile(ok(0), async (path) => {
      await assert.rejects(
        prepareResume(path, { dimensions: 3 }),
        /line 1 has a vector of 2 values, not the 3 asked for with --dimensions/,
      );
    });
  });
});

Deno.test("prepareResume treats a missing file as a fresh start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const state = await prepareResume(`${dir}/none.jsonl`);
    assert.equal(state.exists, false);
    assert.equal(state.done.size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareResume drops the records isStale names, with their repeats, passing each cache_key", async () => {
  const keyed = (id: unknown, key: string) =>
    JSON.stringify({ id, cache_key: key, embedding: [1, 0] }) + "\n";
  const content = keyed(0, "k0") + keyed(1, "old") + ok(2) + keyed(1, "old") + keyed(3, "k3");
  await withFile(content, async (path) => {
    const asked: [unknown, unknown][] = [];
    const state = await prepareResume(path, {
      isStale: (id, key) => {
        asked.push([id, key]);
        return key !== `k${id}`;
      },
    });
    assert.deepEqual(asked, [[0, "k0"], [1, "old"], [2, undefined], [3, "k3"]]);
    assert.equal(state.embedded, 2);
    assert.ok(state.stale >= 2);
    assert.ok(state.done.has(0) && state.done.has(3));
    assert.ok(!state.done.has(1) && !state.done.has(2));
    assert.equal(state.compacted, true);
    assert.equal(await Deno.readTextFile(path), keyed(0, "k0") + keyed(3, "k3"));
  });
});
