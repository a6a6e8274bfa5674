import assert from "node:assert/strict";
import { type RawLine, splitLines } from "./_lines.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Splits `text` delivered in the given chunk sizes, copying each line's bytes. */
async function lines(chunks: Uint8Array[], maxLineBytes?: number) {
  const out: (Omit<RawLine, "bytes"> & { text: string })[] = [];
  const options = maxLineBytes === undefined ? {} : { maxLineBytes };
  for await (const { bytes, ...rest } of splitLines(chunks, options)) {
    out.push({ ...rest, text: new TextDecoder().decode(bytes) });
  }
  return out;
}

function chop(data: Uint8Array, size: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.slice(i, i + size));
  return parts;
}

Deno.test("splitLines yields the same lines and offsets whatever the chunking", async () => {
  const data = bytes("alpha\nbeta\n\ngamma é\nlast");
  const expected = await lines([data]);
  assert.deepEqual(expected.map((l) => [l.text, l.number, l.start, l.end, l.terminated]), [
    ["alpha", 0, 0, 6, true],
    ["beta", 1, 6, 11, true],
    ["", 2, 11, 12, true],
    ["gamma é", 3, 12, 21, true],
    ["last", 4, 21, 25, false],
  ]);
  for (const size of [1, 2, 3, 5, 7, 64]) {
    assert.deepEqual(await lines(chop(data, size)), expected, `chunks of ${size}`);
  }
});

Deno.test("splitLines yields nothing for an empty stream and no extra line after a final newline", async () => {
  assert.deepEqual(await lines([]), []);
  assert.deepEqual((await lines([bytes("a\n")])).map((l) => l.text), ["a"]);
});

Deno.test("splitLines drops the bytes of a line longer than maxLineBytes but keeps counting", async () => {
  const data = bytes("short\n" + "x".repeat(50) + "\nafter\n" + "y".repeat(20));
  for (const size of [3, 1000]) {
    const out = await lines(chop(data, size), 10);
    assert.deepEqual(out.map((l) => [l.text, l.length, l.tooLong, l.terminated]), [
      ["short", 5, false, true],
      ["", 50, true, true],
      ["after", 5, false, true],
      ["", 20, true, false],
    ]);
    assert.equal(out[2]?.start, 57);
  }
});
