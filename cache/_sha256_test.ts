import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256 } from "./_sha256.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const reference = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

Deno.test("sha256 matches the FIPS 180-4 test vectors", () => {
  assert.equal(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    hex(sha256("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256 matches node:crypto at every length around block boundaries and for non-ASCII text", () => {
  for (let length = 0; length < 300; length++) {
    const text = "x".repeat(length);
    assert.equal(hex(sha256(text)), reference(text), `length ${length}`);
  }
  for (
    const text of ["é", "日本語のテキスト", "emoji 😀 and \u0000 nul", "a".repeat(100_000) + "ü"]
  ) {
    assert.equal(hex(sha256(text)), reference(text));
  }
  // A lone surrogate is encoded as U+FFFD by both.
  assert.equal(hex(sha256("\ud800")), reference("\ud800"));
});
