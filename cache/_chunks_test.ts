import assert from "node:assert/strict";
import { chunks } from "./_chunks.ts";

Deno.test("chunks groups a ready stream into full arrays and a short last one", async () => {
  const out = await Array.fromAsync(chunks([1, 2, 3, 4, 5, 6, 7], 3));
  assert.deepEqual(out, [[1, 2, 3], [4, 5, 6], [7]]);
  assert.deepEqual(await Array.fromAsync(chunks([], 3)), []);
});

Deno.test("chunks passes on what it has as soon as the source makes it wait", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  async function* source() {
    yield 1;
    yield 2;
    await gate; // the next item comes only once [1, 2] has been passed on
    yield 3;
  }
  const seen: number[][] = [];
  for await (const chunk of chunks(source(), 100)) {
    seen.push(chunk);
    if (seen.length === 1) release();
  }
  assert.deepEqual(seen, [[1, 2], [3]]);
});
