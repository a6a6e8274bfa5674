import assert from "node:assert/strict";
import { main } from "../main.ts";
import {
  type SimulatedBatch,
  simulatedContentEmbedding,
  simulatedEmbedding,
  startSimulator,
} from "../simulator/server.ts";
import { normalize } from "../gemini/normalize.ts";

type OutputRecord = { id: string | number; embedding?: number[]; error?: { code: string } };

/** Runs main.ts in-process against a recording simulator, with `lines` as the JSONL input. */
async function run(
  args: string[],
  lines: unknown[],
  files: Record<string, Uint8Array> = {},
  quiet = true,
) {
  const batches: SimulatedBatch[] = [];
  await using simulator = startSimulator({ onBatch: (b) => void batches.push(b) });
  const dir = await Deno.makeTempDir({ prefix: "embatch-models-" });
  try {
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${dir}/${name}`, bytes);
    }
    await Deno.writeTextFile(
      `${dir}/in.jsonl`,
      lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
    );
    const stderr: string[] = [];
    const code = await main(
      [
        "--input",
        `${dir}/in.jsonl`,
        "--output",
        `${dir}/out.jsonl`,
        "--base-url",
        simulator.url,
        ...(quiet ? ["--quiet"] : []),
        ...args,
      ],
      {
        stdout: () => {},
        stderr: (line) => void stderr.push(line),
        stderrText: (text) => void stderr.push(text),
        stderrIsTerminal: false,
        env: (name) => name === "GEMINI_API_KEY" ? "test-key" : undefined,
      },
    );
    const text = await Deno.readTextFile(`${dir}/out.jsonl`);
    const records: OutputRecord[] = text.split("\n").filter((l) => l !== "").map((l) =>
      JSON.parse(l)
    );
    return { code, records, batches, stderr: stderr.join("\n") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const byId = (records: OutputRecord[]) => new Map(records.map((r) => [r.id, r]));

Deno.test("CLI: gemini-embedding-2 sends Google's instructions with titles from the JSONL, and no fields", async () => {
  const lines = [
    { id: "a", text: "Open Settings.", title: "Account help" },
    { id: "b", text: "Dogs bark." },
    { id: "c", text: "Cats purr.", heading: "Cats" },
  ];
  const documents = await run(["--task-type", "RETRIEVAL_DOCUMENT", "--dimensions", "8"], lines);
  assert.equal(documents.code, 0, documents.stderr);
  const sent = [
    "title: Account help | text: Open Settings.",
    "title: none | text: Dogs bark.",
    "title: none | text: Cats purr.",
  ];
  assert.deepEqual(
    documents.batches.flatMap((b) => b.requests),
    sent.map((text) => ({ text, dimensions: 8 })),
  );
  assert.deepEqual(
    documents.records.map((r) => r.embedding),
    sent.map((t) => simulatedEmbedding(t, 8)),
  );

  const titled = await run(
    ["--task-type", "RETRIEVAL_DOCUMENT", "--title-field", "heading"],
    lines,
  );
  assert.equal(
    titled.batches.flatMap((b) => b.requests)[2]?.text,
    "title: Cats | text: Cats purr.",
  );

  const queries = await run(["--task-type", "QUESTION_ANSWERING"], lines);
  assert.deepEqual(
    queries.batches.flatMap((b) => b.requests.map((r) => r.text)),
    lines.map((l) => `task: question answering | query: ${l.text}`),
  );
  const raw = await run([], lines);
  assert.deepEqual(
    raw.batches.flatMap((b) => b.requests.map((r) => r.text)),
    lines.map((l) => l.text),
  );
});

Deno.test("CLI: gemini-embedding-001 gets taskType as a field and the title only with RETRIEVAL_DOCUMENT", async () => {
  const lines = [{ id: "a", text: "x", title: "T" }, { id: "b", text: "y" }];
  const documents = await run([
    "--model",
    "gemini-embedding-001",
    "--task-type",
    "RETRIEVAL_DOCUMENT",
  ], lines);
  assert.equal(documents.code, 0, documents.stderr);
  assert.deepEqual(
    documents.batches.flatMap((b) => b.requests).sort((p, q) => p.text.localeCompare(q.text)),
    [
      { text: "x", dimensions: 3072, taskType: "RETRIEVAL_DOCUMENT", title: "T" },
      { text: "y", dimensions: 3072, taskType: "RETRIEVAL_DOCUMENT" },
    ],
  );
  const queries = await run(
    ["--model", "gemini-embedding-001", "--task-type", "RETRIEVAL_QUERY"],
    lines,
  );
  assert.deepEqual(queries.batches.flatMap((b) => b.requests), [
    { text: "x", dimensions: 3072, taskType: "RETRIEVAL_QUERY" },
    { text: "y", dimensions: 3072, taskType: "RETRIEVAL_QUERY" },
  ]);
});

Deno.test("CLI: a 5,000-token text embeds with gemini-embedding-2 and is refused with 001", async () => {
  const long = "abc ".repeat(5000); // 5,000 tokens by the estimate and by the simulator
  const lines = [{ id: "long", text: long }, { id: "short", text: "short" }];
  const v2 = await run(["--dimensions", "4"], lines);
  assert.equal(v2.code, 0, v2.stderr);
  assert.deepEqual(byId(v2.records).get("long")?.embedding, simulatedEmbedding(long, 4));
  const v1 = await run(["--model", "gemini-embedding-001", "--dimensions", "4"], lines);
  assert.equal(v1.code, 3, v1.stderr);
  assert.equal(byId(v1.records).get("long")?.error?.code, "TOKEN_LIMIT");
  assert.ok(byId(v1.records).get("short")?.embedding);
  assert.ok(v1.batches.every((b) => b.requests.every((r) => r.text !== long)), "never sent");
});

Deno.test("CLI: a JSONL corpus with images and PDFs gets one vector per line; bad files are that line's error", async () => {
  const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 42]);
  const jpeg = new Uint8Array([255, 216, 255, 224, 7]);
  const pdf = new TextEncoder().encode("%PDF-1.4\n1 0 obj << /Type /Page >>\n%%EOF");
  const files = { "cat.png": png, "dog.jpg": jpeg, "doc.pdf": pdf, "notes.txt": png };
  const lines = [
    { id: "cat", text: "a cat", file: "cat.png" },
    { id: "pets", file: ["cat.png", "dog.jpg"] },
    { id: "doc", text: "the manual", file: "doc.pdf" },
    { id: "gone", file: "missing.png" },
    { id: "txt", file: "notes.txt" },
    { id: "plain", text: "just text" },
  ];
  const result = await run(
    ["--dimensions", "8", "--task-type", "RETRIEVAL_DOCUMENT"],
    lines,
    files,
  );
  assert.equal(result.code, 3, result.stderr);
  const records = byId(result.records);
  assert.equal(result.records.length, lines.length, "one record per line");
  const media = (mimeType: string, data: Uint8Array) => ({ mimeType, data });
  assert.deepEqual(
    records.get("cat")?.embedding,
    simulatedContentEmbedding({ text: "a cat", media: [media("image/png", png)] }, 8),
  );
  assert.deepEqual(
    records.get("pets")?.embedding,
    simulatedContentEmbedding({
      text: "",
      media: [media("image/png", png), media("image/jpeg", jpeg)],
    }, 8),
  );
  assert.deepEqual(
    records.get("doc")?.embedding,
    simulatedContentEmbedding({ text: "the manual", media: [media("application/pdf", pdf)] }, 8),
  );
  assert.equal(records.get("gone")?.error?.code, "MEDIA_NOT_FOUND");
  assert.equal(records.get("txt")?.error?.code, "UNSUPPORTED_MEDIA");
  assert.deepEqual(
    records.get("plain")?.embedding,
    simulatedEmbedding("title: none | text: just text", 8),
  );
  // The text that travels with media carries no instruction; the text part comes first.
  const cat = result.batches.flatMap((b) => b.requests).find((r) =>
    r.media?.length === 1 && r.text === "a cat"
  );
  assert.ok(cat, "a cat was sent as its text and its image, without an instruction");

  const v1 = await run(["--model", "gemini-embedding-001"], lines, files);
  const v1Records = byId(v1.records);
  for (const id of ["cat", "pets", "doc"]) {
    assert.equal(v1Records.get(id)?.error?.code, "UNSUPPORTED_MEDIA", id);
  }
  assert.ok(v1Records.get("plain")?.embedding);
  assert.ok(v1.batches.every((b) => b.requests.every((r) => r.media === undefined)));
});

Deno.test("CLI: vectors are unit length by default, and as returned with --no-normalize", async () => {
  const lines = [{ id: 0, text: "alpha" }, { id: 1, text: "beta" }];
  const model = "gemini-embedding-001";
  const unit = await run(["--model", model, "--dimensions", "8"], lines);
  for (const r of unit.records) {
    assert.ok(Math.abs(Math.hypot(...r.embedding!) - 1) < 1e-12);
  }
  assert.deepEqual(unit.records[0]?.embedding, normalize(simulatedEmbedding("alpha", 8, model)));
  const raw = await run(["--model", model, "--dimensions", "8", "--no-normalize"], lines);
  assert.deepEqual(
    raw.records.map((r) => r.embedding),
    ["alpha", "beta"].map((t) => simulatedEmbedding(t, 8, model)),
  );
  assert.ok(Math.hypot(...raw.records[0]!.embedding!) < 0.9);
});

Deno.test("CLI: an unknown model gets a one-line notice and 001's conservative limits", async () => {
  const result = await run(["--model", "my-embedder"], [{ text: "x" }], {}, false);
  assert.equal(result.code, 0);
  const notices = result.stderr.split("\n").filter((l) => l.includes("unknown model"));
  assert.deepEqual(notices, [
    "embatch: unknown model my-embedder: assuming 2,048 input tokens per text, text only, task type as a field (set --max-input-tokens to change the limit)",
  ]);
  const long = await run(["--model", "my-embedder"], [{ text: "abc ".repeat(3000) }]);
  assert.equal(long.records[0]?.error?.code, "TOKEN_LIMIT");
});

Deno.test("CLI --truncate: 001 embeds the start of a 5,000-token text; -2 keeps the instruction and cuts the text", async () => {
  const long = "abc ".repeat(5000);
  const v1 = await run(["--model", "gemini-embedding-001", "--truncate", "--dimensions", "4"], [{
    id: 0,
    text: long,
  }]);
  assert.equal(v1.code, 0, v1.stderr);
  const sent = v1.batches[0]!.requests[0]!.text;
  assert.ok(long.startsWith(sent) && sent.length < long.length && sent.length > 4000);
  assert.deepEqual(
    v1.records[0]?.embedding,
    normalize(simulatedEmbedding(sent, 4, "gemini-embedding-001")),
  );

  const longer = "abc ".repeat(9000); // over 8,192
  const v2 = await run(["--truncate", "--task-type", "RETRIEVAL_QUERY"], [{ id: 0, text: longer }]);
  assert.equal(v2.code, 0, v2.stderr);
  const instructed = v2.batches[0]!.requests[0]!.text;
  assert.ok(instructed.startsWith("task: search result | query: abc abc"), instructed.slice(0, 40));
  assert.ok(`task: search result | query: ${longer}`.startsWith(instructed));
  assert.ok(instructed.length < longer.length);
});

Deno.test("CLI --resume keeps to the normalisation the output was made with", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-models-resume-" });
  await using simulator = startSimulator();
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "one\ntwo\n");
    const errors: string[] = [];
    const io = {
      stdout: () => {},
      stderr: (line: string) => void errors.push(line),
      env: (name: string) => name === "GEMINI_API_KEY" ? "k" : undefined,
    };
    const base = [
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out.jsonl`,
      "--base-url",
      simulator.url,
      "--quiet",
    ];
    const first = [...base, "--model", "gemini-embedding-001", "--dimensions", "8"];
    assert.equal(await main([...first, "--no-normalize"], io), 0, errors.join("\n"));
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/out.jsonl.meta.json`));
    assert.equal(meta.normalize, false);
    assert.equal(await main([...base, "--resume"], io), 0, "the recorded setting is used");

    await Deno.remove(`${dir}/out.jsonl`);
    await Deno.remove(`${dir}/out.jsonl.meta.json`);
    assert.equal(await main(first, io), 0);
    errors.length = 0;
    assert.equal(await main([...base, "--resume", "--no-normalize"], io), 2);
    assert.match(
      errors.join("\n"),
      /made with unit-length vectors \(no --no-normalize\), not --no-normalize/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI --batch-api: titles reach the job lines, a line with files is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embatch-models-batch-" });
  try {
    const lines = [
      { id: "a", text: "Open Settings.", title: "Help" },
      { id: "b", text: "Dogs bark." },
      { id: "c", text: "a cat", file: "cat.png" },
    ];
    await Deno.writeTextFile(
      `${dir}/in.jsonl`,
      lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
    );
    const errors: string[] = [];
    const code = await main([
      "--input",
      `${dir}/in.jsonl`,
      "--output",
      `${dir}/out.jsonl`,
      "--batch-api",
      "--simulate",
      "--simulate-batch-pending",
      "10ms",
      "--simulate-batch-running",
      "10ms",
      "--poll-interval",
      "10ms",
      "--task-type",
      "RETRIEVAL_DOCUMENT",
      "--dimensions",
      "8",
      "--quiet",
    ], { stdout: () => {}, stderr: (l) => void errors.push(l), env: () => undefined });
    assert.equal(code, 3, errors.join("\n"));
    const records = byId(
      (await Deno.readTextFile(`${dir}/out.jsonl`)).split("\n").filter((l) => l !== "").map((l) =>
        JSON.parse(l)
      ),
    );
    assert.deepEqual(
      records.get("a")?.embedding,
      simulatedEmbedding("title: Help | text: Open Settings.", 8),
    );
    assert.deepEqual(
      records.get("b")?.embedding,
      simulatedEmbedding("title: none | text: Dogs bark.", 8),
    );
    assert.equal(records.get("c")?.error?.code, "UNSUPPORTED_WITH_BATCH_API");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
