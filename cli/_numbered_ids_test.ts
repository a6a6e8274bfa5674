import assert from "node:assert/strict";
import { NumberedIds } from "./_numbered_ids.ts";

Deno.test("NumberedIds keeps prefixed numbers as bits and reports repeats", () => {
  const ids = new NumberedIds();
  assert.equal(ids.add("doc-0"), true);
  assert.equal(ids.add("doc-17"), true);
  assert.equal(ids.add("doc-17"), false);
  assert.equal(ids.add("17"), true, "the empty prefix is a prefix of its own");
  assert.equal(ids.add("v2-17"), true, "only the trailing digits are the number");
  assert.equal(ids.has("doc-17"), true);
  assert.equal(ids.has("doc-16"), false);
  assert.equal(ids.has("doc-1"), false);
  assert.equal(ids.has("v2-17"), true);
  assert.equal(ids.has("17"), true);
  assert.equal(ids.has("doc-16777215"), false);
});

Deno.test("NumberedIds leaves ids that are not numbered to the caller", () => {
  const ids = new NumberedIds();
  for (const id of ["doc", "", "doc-017", "00", "doc-16777216", "doc-123456789", "x1y"]) {
    assert.equal(ids.add(id), undefined, id);
    assert.equal(ids.has(id), undefined, id);
  }
  assert.equal(ids.add("doc-0"), true);
  assert.equal(ids.add("doc-16777215"), true, "the largest number kept");
});

Deno.test("NumberedIds takes only the first four prefixes, for good", () => {
  const ids = new NumberedIds();
  for (const prefix of ["a", "b", "c", "d"]) assert.equal(ids.add(`${prefix}1`), true);
  assert.equal(ids.add("e1"), undefined);
  assert.equal(ids.has("e1"), undefined, "a fifth prefix is never registered later");
  assert.equal(ids.has("a2"), false);
  assert.equal(ids.has("a1"), true);
});
