import assert from "node:assert/strict";
import { decodeLines, type RawLine, splitLines } from "./_lines.ts";
import { seededRandom } from "../internal/random.ts";

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

Deno.test("decodeLines agrees with splitLines and a per-line decode, however the stream is cut", async () => {
  const random = seededRandom(9);
  const pieces = [
    bytes("plain"),
    bytes("é猫😀"),
    bytes("\ufeffbom"),
    bytes("\r"),
    bytes(" "),
    new Uint8Array([0xff]), // invalid UTF-8
    new Uint8Array([0xe2, 0x82]), // a truncated character
    bytes("x".repeat(30)), // over maxLineBytes 24 when alone on a line
    bytes("\n"),
    bytes("\n"),
  ];
  for (let round = 0; round < 300; round++) {
    const parts: Uint8Array[] = [];
    const count = Math.floor(random() * 30);
    for (let i = 0; i < count; i++) parts.push(pieces[Math.floor(random() * pieces.length)]!);
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < all.length;) {
      const size = 1 + Math.floor(random() * 40);
      chunks.push(all.slice(at, at + size));
      at += size;
    }
    const expected = [];
    for await (const raw of splitLines(chunks, { maxLineBytes: 24 })) {
      let text: string | undefined;
      try {
        text = raw.tooLong
          ? undefined
          : new TextDecoder("utf-8", { fatal: true }).decode(raw.bytes);
      } catch {
        text = undefined;
      }
      expected.push({ text, number: raw.number, end: raw.end, length: raw.length });
    }
    const actual = [];
    for await (const group of decodeLines(chunks, { maxLineBytes: 24 })) {
      assert.ok(group.length > 0);
      for (const { text, number, end, length } of group) actual.push({ text, number, end, length });
    }
    assert.deepEqual(actual, expected, JSON.stringify(new TextDecoder().decode(all)));
  }
});
