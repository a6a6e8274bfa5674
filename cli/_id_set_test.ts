import assert from "node:assert/strict";
import { IdSet } from "./_id_set.ts";
import { seededRandom } from "../internal/random.ts";

Deno.test("IdSet keeps numbers and strings apart and reports repeats", () => {
  const set = new IdSet();
  assert.equal(set.add(5), true);
  assert.equal(set.add("5"), true);
  assert.equal(set.add(5), false);
  assert.equal(set.add("5"), false);
  assert.equal(set.add(-1), true);
  assert.equal(set.add(1.5), true);
  assert.equal(set.add(2 ** 40), true);
  assert.equal(set.add("é😀"), true);
  assert.equal(set.add(""), true);
  for (const id of [5, "5", -1, 1.5, 2 ** 40, "é😀", ""]) assert.ok(set.has(id), String(id));
  for (const id of [6, "6", 1, "1.5", 2 ** 40 + 1, "é", " "]) assert.ok(!set.has(id), String(id));
  assert.equal(set.size, 7);
});

Deno.test("IdSet agrees with a Set over many random ids", () => {
  const random = seededRandom(42);
  const set = new IdSet();
  const reference = new Set<string | number>();
  for (let i = 0; i < 50_000; i++) {
    const r = random();
    const id = r < 0.4
      ? Math.floor(random() * 100_000)
      : r < 0.8
      ? `doc-${Math.floor(random() * 40_000)}`
      : -Math.floor(random() * 1000);
    assert.equal(set.add(id), !reference.has(id));
    reference.add(id);
  }
  assert.equal(set.size, reference.size);
  for (let i = 0; i < 10_000; i++) {
    const id = i % 2 ? `doc-${i * 7}` : i * 13;
    assert.equal(set.has(id), reference.has(id), String(id));
  }
});

Deno.test("IdSet agrees with a Set over random non-ASCII ids", () => {
  const random = seededRandom(7);
  const alphabet = ["a", "Z", "0", "é", "ß", "Ж", "猫", "€", "😀", "👍🏽", "\u0000", "\uffff"];
  const set = new IdSet();
  const reference = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    let id = "";
    const length = Math.floor(random() * 6);
    for (let j = 0; j < length; j++) id += alphabet[Math.floor(random() * alphabet.length)];
    assert.equal(set.add(id), !reference.has(id), JSON.stringify(id));
    reference.add(id);
  }
  assert.equal(set.size, reference.size);
  for (const id of reference) assert.ok(set.has(id), JSON.stringify(id));
  assert.ok(!set.has("😀😀😀😀😀😀😀"));
});

Deno.test("IdSet agrees with a Set over numbered string ids of many prefixes", () => {
  const random = seededRandom(11);
  const prefixes = ["doc-", "", "chunk_", "a", "b", "c", "d", "é-", "doc-0"];
  const set = new IdSet();
  const reference = new Set<string | number>();
  for (let i = 0; i < 50_000; i++) {
    const prefix = prefixes[Math.floor(random() * prefixes.length)]!;
    const r = random();
    const number = r < 0.8
      ? String(Math.floor(random() * 5000))
      : r < 0.9
      ? `0${Math.floor(random() * 50)}` // a leading zero: not a numbered id
      : String(Math.floor(random() * 2 ** 26)); // beyond the bitmaps
    const id = random() < 0.1 ? Number(number) : `${prefix}${number}`;
    assert.equal(set.add(id), !reference.has(id), String(id));
    reference.add(id);
  }
  assert.equal(set.size, reference.size);
  for (let i = 0; i < 5000; i++) {
    for (const prefix of prefixes) {
      const id = `${prefix}${i}`;
      assert.equal(set.has(id), reference.has(id), id);
    }
    assert.equal(set.has(i), reference.has(i), String(i));
  }
});
