import assert from "node:assert/strict";
import {
  applyTask,
  checkDimensions,
  DEFAULT_MODEL,
  mediaType,
  MODEL_PROFILES,
  modelProfile,
} from "./models.ts";
import { GEMINI_TASK_TYPES } from "./task_types.ts";

Deno.test("modelProfile picks the family the way the SDK matches gemini-embedding-2", () => {
  for (
    const name of ["gemini-embedding-2", "gemini-embedding-2-preview", "models/gemini-embedding-2"]
  ) {
    const profile = modelProfile(name);
    assert.equal(profile.family, "gemini-embedding-2", name);
    assert.equal(profile.maxInputTokens, 8192);
    assert.equal(profile.taskIntent, "instruction");
    assert.equal(profile.normalizesReducedDimensions, true);
    assert.equal(profile.notice, undefined);
  }
  assert.equal(modelProfile("models/gemini-embedding-2").model, "gemini-embedding-2");
  const v1 = modelProfile("gemini-embedding-001");
  assert.equal(v1.family, "gemini-embedding-001");
  assert.equal(v1.maxInputTokens, 2048);
  assert.equal(v1.normalizesReducedDimensions, false);
  assert.deepEqual(v1.media, {});
  assert.equal(DEFAULT_MODEL, "gemini-embedding-2");
});

Deno.test("modelProfile gives an unknown model conservative limits and a one-line notice", () => {
  const profile = modelProfile("text-embedding-005");
  assert.equal(profile.family, "unknown");
  assert.equal(profile.maxInputTokens, 2048);
  assert.deepEqual(profile.media, {});
  assert.equal(profile.price, undefined);
  assert.equal(profile.normalizesReducedDimensions, false);
  assert.ok(profile.notice?.includes("text-embedding-005"));
  assert.ok(!profile.notice?.includes("\n"));
  assert.throws(() => modelProfile("models/"), TypeError);
});

Deno.test("the price table is dated and gemini-embedding-2 costs more per text token than 001", () => {
  const v2 = MODEL_PROFILES["gemini-embedding-2"].price!;
  const v1 = MODEL_PROFILES["gemini-embedding-001"].price!;
  assert.equal(v2.text, 0.20);
  assert.equal(v1.text, 0.15);
  assert.equal(v2.batchText, v2.text / 2);
  assert.equal(v1.batchText, v1.text / 2);
  assert.match(v2.asOf, /^\d{4}-\d{2}-\d{2}$/);
  assert.match(v2.source, /^https:\/\//);
});

Deno.test("applyTask writes Google's documented instructions for gemini-embedding-2", async (t) => {
  const v2 = modelProfile("gemini-embedding-2");
  const expected: Record<string, string> = {
    RETRIEVAL_QUERY: "task: search result | query: x",
    QUESTION_ANSWERING: "task: question answering | query: x",
    FACT_VERIFICATION: "task: fact checking | query: x",
    CODE_RETRIEVAL_QUERY: "task: code retrieval | query: x",
    CLASSIFICATION: "task: classification | query: x",
    CLUSTERING: "task: clustering | query: x",
    SEMANTIC_SIMILARITY: "task: sentence similarity | query: x",
    RETRIEVAL_DOCUMENT: "title: none | text: x",
  };
  for (const taskType of GEMINI_TASK_TYPES) {
    await t.step(taskType, () => {
      // No field ever travels for this model, title or not.
      assert.deepEqual(applyTask(v2, "x", taskType), { text: expected[taskType] });
      const titled = applyTask(v2, "x", taskType, "T");
      assert.deepEqual(Object.keys(titled), ["text"]);
    });
  }
  await t.step("a document's title goes into the text", () => {
    assert.deepEqual(applyTask(v2, "body", "RETRIEVAL_DOCUMENT", "Account help"), {
      text: "title: Account help | text: body",
    });
    assert.deepEqual(applyTask(v2, "body", "RETRIEVAL_DOCUMENT", ""), {
      text: "title: none | text: body",
    });
  });
});

Deno.test("applyTask sends taskType for 001, and title only with RETRIEVAL_DOCUMENT", () => {
  const v1 = modelProfile("gemini-embedding-001");
  assert.deepEqual(applyTask(v1, "q", "RETRIEVAL_QUERY", "ignored"), {
    text: "q",
    taskType: "RETRIEVAL_QUERY",
  });
  assert.deepEqual(applyTask(v1, "d", "RETRIEVAL_DOCUMENT", "T"), {
    text: "d",
    taskType: "RETRIEVAL_DOCUMENT",
    title: "T",
  });
  assert.deepEqual(applyTask(v1, "d", "RETRIEVAL_DOCUMENT"), {
    text: "d",
    taskType: "RETRIEVAL_DOCUMENT",
  });
});

Deno.test("applyTask without a task type sends the text exactly as given", () => {
  for (const model of ["gemini-embedding-2", "gemini-embedding-001", "other"]) {
    assert.deepEqual(applyTask(modelProfile(model), "  raw | text ", undefined, "T"), {
      text: "  raw | text ",
    });
  }
});

Deno.test("checkDimensions accepts 128 to 3072 and refuses the rest", () => {
  const profile = modelProfile("gemini-embedding-001");
  assert.equal(checkDimensions(profile, 128), 128);
  assert.equal(checkDimensions(profile, 3072), 3072);
  for (const bad of [127, 3073, 1.5, Number.NaN]) {
    assert.throws(() => checkDimensions(profile, bad), RangeError, String(bad));
  }
});

Deno.test("mediaType knows the seven documented file types by extension", () => {
  assert.deepEqual(mediaType("a.png"), { mimeType: "image/png", kind: "image" });
  assert.deepEqual(mediaType("a.JPG"), { mimeType: "image/jpeg", kind: "image" });
  assert.deepEqual(mediaType("a.jpeg"), { mimeType: "image/jpeg", kind: "image" });
  assert.deepEqual(mediaType("dir.v2/a.pdf"), { mimeType: "application/pdf", kind: "pdf" });
  assert.deepEqual(mediaType("a.mp3"), { mimeType: "audio/mpeg", kind: "audio" });
  assert.deepEqual(mediaType("a.wav"), { mimeType: "audio/wav", kind: "audio" });
  assert.deepEqual(mediaType("a.mp4"), { mimeType: "video/mp4", kind: "video" });
  assert.deepEqual(mediaType("a.mov"), { mimeType: "video/quicktime", kind: "video" });
  for (const other of ["a.gif", "a", ".png", "dir.png/file", "a.webp"]) {
    assert.equal(mediaType(other), undefined, other);
  }
  // Every MIME type mediaType gives is one gemini-embedding-2 accepts for its kind.
  const v2 = MODEL_PROFILES["gemini-embedding-2"];
  for (const name of ["a.png", "a.jpg", "a.pdf", "a.mp3", "a.wav", "a.mp4", "a.mov"]) {
    const type = mediaType(name)!;
    assert.ok(v2.media[type.kind]?.mimeTypes.includes(type.mimeType), name);
  }
});
