import assert from "node:assert/strict";
import { estimateTokens, isClearlyWithinTokens, truncateToTokens } from "./tokens.ts";
import { seededRandom } from "../internal/random.ts";

const ALPHABET = ["a", "b", "Z", " ", "  ", "\n", "7", ".", "é", "Ж", "日", "🙂", "👍🏽", "e\u0301"];

function randomText(random: () => number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return text;
}

Deno.test("estimateTokens is never below one token per 4 UTF-8 bytes (the simulator's count)", () => {
  const random = seededRandom(7);
  const bytes = new TextEncoder();
  for (let i = 0; i < 2000; i++) {
    const text = randomText(random, Math.floor(random() * 200));
    const floor = Math.ceil(bytes.encode(text).length / 4);
    assert.ok(
      estimateTokens(text) >= floor,
      `${JSON.stringify(text)}: ${estimateTokens(text)} < ${floor}`,
    );
  }
});

Deno.test("estimateTokens grows with the text", () => {
  const random = seededRandom(3);
  for (let i = 0; i < 200; i++) {
    const text = randomText(random, 60);
    let previous = 0;
    for (let end = 0; end <= text.length; end++) {
      const tokens = estimateTokens(text.slice(0, end));
      assert.ok(tokens >= previous);
      previous = tokens;
    }
  }
});

Deno.test("truncateToTokens cuts on a grapheme boundary to the longest fitting prefix", () => {
  const random = seededRandom(11);
  const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  for (let i = 0; i < 300; i++) {
    const text = randomText(random, 80);
    const max = 1 + Math.floor(random() * 40);
    const cut = truncateToTokens(text, max);
    assert.ok(text.startsWith(cut));
    assert.ok(estimateTokens(cut) <= max);
    const ends = [...segmenter.segment(text)].map((s) => s.index + s.segment.length);
    if (cut !== text) {
      assert.ok(cut === "" || ends.includes(cut.length), "ends on a grapheme boundary");
      const next = ends.find((end) => end > cut.length)!;
      assert.ok(estimateTokens(text.slice(0, next)) > max, "the next grapheme would not fit");
    }
  }
  assert.equal(truncateToTokens("👍🏽👍🏽", 9), "👍🏽");
  assert.throws(() => truncateToTokens("x", -1), RangeError);
});

// The regular-expression form of the estimate, as it was first written: the
// allocation-free scanner must agree with it on every text.
const PIECE = /([A-Za-z]+)|(\s+)|([\ud800-\udbff][\udc00-\udfff])|[^]/g;
function referenceEstimate(text: string): number {
  let tokens = 0;
  for (const [piece, letters, spaces, astral] of text.matchAll(PIECE)) {
    if (letters !== undefined) tokens += Math.ceil(letters.length / 3);
    else if (spaces !== undefined) tokens += spaces === " " ? 0 : Math.ceil(spaces.length / 4);
    else if (astral !== undefined) tokens += 4;
    else if (piece !== "") tokens += 1;
  }
  return Math.max(tokens, Math.ceil(text.length / 4), text === "" ? 0 : 1);
}

Deno.test("estimateTokens agrees with the regular-expression estimate on random texts", () => {
  const random = seededRandom(42);
  // Letters, digits, punctuation, every \s character, accents, CJK, emoji, lone surrogates.
  const alphabet = [
    ..."abcXYZ019.,!-_@[`{~",
    ..." \t\n\v\f\r\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u200b",
    ..."éжß猫",
    "🙂",
    "\ud83d",
    "\ude42",
  ];
  for (let n = 0; n < 5000; n++) {
    let text = "";
    const length = Math.floor(random() * 40);
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
    assert.equal(estimateTokens(text), referenceEstimate(text), JSON.stringify(text));
    assert.ok(estimateTokens(text) <= 2 * text.length);
  }
});

Deno.test("isClearlyWithinTokens is true only when the estimate cannot exceed the limit", () => {
  assert.equal(isClearlyWithinTokens("", 0), true);
  assert.equal(isClearlyWithinTokens("🙂", 4), true);
  assert.equal(estimateTokens("🙂"), 4);
  assert.equal(isClearlyWithinTokens("🙂", 3), false);
  assert.equal(isClearlyWithinTokens("a".repeat(1024), 2048), true);
  assert.equal(isClearlyWithinTokens("a".repeat(1025), 2048), false);
});
