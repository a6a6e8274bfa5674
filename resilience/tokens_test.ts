import assert from "node:assert/strict";
import { estimateTokens, truncateToTokens } from "./tokens.ts";
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
