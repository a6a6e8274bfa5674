import assert from "node:assert/strict";
import { parseCliArgs } from "./args.ts";
import { applySettings, readSettings, settingsOf, writeSettings } from "./_settings.ts";

const recorded = {
  model: "gemini-embedding-001",
  dimensions: 8,
  taskType: "CLUSTERING",
  normalize: false,
};

Deno.test("applySettings fills in flags that were not given from the record", () => {
  const merged = applySettings(parseCliArgs(["--input", "in.txt"]), recorded, "out.jsonl");
  assert.ok(typeof merged !== "string", String(merged));
  assert.deepEqual(settingsOf(merged), recorded);
});

Deno.test("applySettings refuses a given flag that differs, naming both values", () => {
  const cases: [string[], string][] = [
    [["--dimensions", "16"], "it was made with --dimensions 8, not --dimensions 16"],
    [["--task-type", "RETRIEVAL_QUERY"], "--task-type CLUSTERING, not --task-type RETRIEVAL_QUERY"],
    [["--model", "models/other-model"], "--model gemini-embedding-001, not --model other-model"],
  ];
  for (const [flags, message] of cases) {
    const result = applySettings(parseCliArgs(["--input", "x", ...flags]), recorded, "out.jsonl");
    assert.equal(typeof result, "string");
    assert.ok((result as string).includes(message), result as string);
    assert.ok((result as string).includes("out.jsonl.meta.json"));
  }
  const none = applySettings(
    parseCliArgs(["--input", "x", "--dimensions", "8"]),
    { ...recorded, taskType: null },
    "out.jsonl",
  );
  assert.ok(typeof none !== "string" && none.taskType === undefined, "null: the default");
  const normalised = applySettings(
    parseCliArgs(["--input", "x", "--no-normalize"]),
    { ...recorded, normalize: true },
    "out.jsonl",
  );
  assert.ok(
    typeof normalised === "string" &&
      normalised.includes("made with unit-length vectors (no --no-normalize), not --no-normalize"),
    String(normalised),
  );
  const { normalize: _, ...older } = recorded; // a sidecar from before normalisation was recorded
  const flagsDecide = applySettings(parseCliArgs(["--input", "x"]), older, "out.jsonl");
  assert.ok(typeof flagsDecide !== "string" && flagsDecide.normalize === true);
});

Deno.test("writeSettings and readSettings round-trip; a broken record is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSettings(`${dir}/out.jsonl`, recorded);
    assert.deepEqual(await readSettings(`${dir}/out.jsonl`), recorded);
    assert.equal(await readSettings(`${dir}/none.jsonl`), undefined);
    await Deno.writeTextFile(`${dir}/bad.jsonl.meta.json`, "[1]");
    await assert.rejects(readSettings(`${dir}/bad.jsonl`), /is not a JSON object/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
