import assert from "node:assert/strict";
import { loadMediaFiles } from "./media_files.ts";
import { modelProfile } from "./models.ts";

const V2 = modelProfile("gemini-embedding-2");

/** A PDF-like file with `pages` page objects (and a /Pages tree node, not counted). */
function pdf(pages: number): Uint8Array {
  const objects = Array.from({ length: pages }, (_, i) => `${i + 3} 0 obj << /Type /Page >>`);
  return new TextEncoder().encode(
    `%PDF-1.4\n2 0 obj << /Type /Pages >>\n${objects.join("\n")}\n%%EOF`,
  );
}

/** A PCM WAV header for `seconds` of 8 kHz mono 8-bit audio, and its samples. */
function wav(seconds: number): Uint8Array {
  const rate = 8000;
  const bytes = new Uint8Array(44 + rate * seconds);
  const view = new DataView(bytes.buffer);
  const tag = (at: number, s: string) => [...s].forEach((c, i) => bytes[at + i] = c.charCodeAt(0));
  tag(0, "RIFF");
  view.setUint32(4, bytes.length - 8, true);
  tag(8, "WAVE");
  tag(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate, true); // byte rate
  view.setUint16(32, 1, true);
  view.setUint16(34, 8, true);
  tag(36, "data");
  view.setUint32(40, rate * seconds, true);
  return bytes;
}

async function withDir(files: Record<string, Uint8Array>, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "embatch-media-" });
  try {
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadMediaFiles describes files in order, read only when asked", async () => {
  const png = new Uint8Array([137, 80, 78, 71]);
  await withDir({ "a.png": png, "b.pdf": pdf(2), "c.wav": wav(3) }, async (dir) => {
    const media = await loadMediaFiles(["a.png", `${dir}/b.pdf`, "c.wav"], dir, V2);
    assert.ok(Array.isArray(media), JSON.stringify(media));
    assert.deepEqual(media.map((m) => [m.name, m.mimeType, m.tokens]), [
      ["a.png", "image/png", 267],
      [`${dir}/b.pdf`, "application/pdf", 2 * 267],
      ["c.wav", "audio/wav", 3 * 25],
    ]);
    assert.deepEqual(await media[0]!.read(), png);
    assert.equal(media[2]!.size, 44 + 8000 * 3);
  });
});

Deno.test("loadMediaFiles checks Google's limits before anything is sent", async (t) => {
  const png = new Uint8Array([1]);
  const files = {
    "seven.pdf": pdf(7),
    "six.pdf": pdf(6),
    "long.wav": wav(181),
    "empty.png": new Uint8Array(0),
    "a.png": png,
    "notes.txt": png,
  };
  await withDir(files, async (dir) => {
    const cases: [string, string[], string, RegExp][] = [
      ["a PDF over 6 pages", ["seven.pdf"], "MEDIA_LIMIT", /7 pages, over the limit of 6/],
      ["two PDFs", ["six.pdf", "six.pdf"], "MEDIA_LIMIT", /at most 1 pdf/],
      [
        "audio over 180 s",
        ["long.wav"],
        "MEDIA_LIMIT",
        /181\.0 s of audio, over the limit of 180 s/,
      ],
      ["seven images", Array(7).fill("a.png"), "MEDIA_LIMIT", /at most 6 image/],
      ["a missing file", ["gone.png"], "MEDIA_NOT_FOUND", /gone\.png: no such file/],
      ["an empty file", ["empty.png"], "MEDIA_UNREADABLE", /empty/],
      ["an unsupported type", ["notes.txt"], "UNSUPPORTED_MEDIA", /notes\.txt: not a file type/],
    ];
    for (const [name, paths, code, message] of cases) {
      await t.step(name, async () => {
        const result = await loadMediaFiles(paths, dir, V2);
        assert.ok(!Array.isArray(result), name);
        assert.equal(result.code, code);
        assert.match(result.message, message);
      });
    }
    await t.step("six images and a six-page PDF are fine", async () => {
      const ok = await loadMediaFiles([...Array(6).fill("a.png"), "six.pdf"], dir, V2);
      assert.ok(Array.isArray(ok));
      assert.equal(ok.length, 7);
    });
    await t.step("gemini-embedding-001 takes no media", async () => {
      const v1 = await loadMediaFiles(["a.png"], dir, modelProfile("gemini-embedding-001"));
      assert.ok(!Array.isArray(v1));
      assert.equal(v1.code, "UNSUPPORTED_MEDIA");
      assert.match(v1.message, /gemini-embedding-001 embeds text only/);
    });
  });
});
