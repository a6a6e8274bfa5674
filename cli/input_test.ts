import assert from "node:assert/strict";
import { formatFromPath, type InputRecord, readInputs, type ReadInputsOptions } from "./input.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function summary(records: InputRecord[]) {
  return records.map((r) => r.ok ? [r.id, r.text] : [r.id, r.error.code, r.error.message]);
}

async function read(chunks: Uint8Array[], options?: ReadInputsOptions) {
  return await Array.fromAsync(readInputs(chunks, options));
}

Deno.test("readInputs reads text lines with their line numbers as ids", async () => {
  const blanks: number[] = [];
  const records = await read([bytes("one\r\ntwo\n\n   \nthree é")], {
    onBlankLine: (line) => void blanks.push(line),
  });
  assert.deepEqual(summary(records), [[0, "one"], [1, "two"], [4, "three é"]]);
  assert.deepEqual(blanks, [2, 3]);
  assert.deepEqual(records.map((r) => r.end), [5, 9, 22]);
});

Deno.test("readInputs reports invalid UTF-8 on its own line and reads on", async () => {
  const data = new Uint8Array([...bytes("good\n"), 0xff, 0xfe, 0x0a, ...bytes("caf"), 0xc3]);
  const records = await read([data.subarray(0, 6), data.subarray(6)]);
  assert.deepEqual(summary(records), [
    [0, "good"],
    [1, "INVALID_UTF8", "line 2 is not valid UTF-8"],
    [2, "INVALID_UTF8", "line 3 is not valid UTF-8"], // cut in the middle of "é"
  ]);
});

Deno.test("readInputs reads JSONL ids and texts and names each bad line", async () => {
  const lines = [
    '{"id":"doc-1","text":"first"}',
    '{"text":"no id"}',
    '{"id":42,"body":"other field","text":"x"}',
    "{not json",
    "[1,2]",
    '{"id":"a"}',
    '{"id":"b","text":7}',
    '{"id":"c","text":"  "}',
    '{"id":null,"text":"t"}',
    '{"id":"","text":"t"}',
    "",
    '{"id":1.5,"text":"fine"}',
  ];
  const records = await read([bytes(lines.join("\n"))], { format: "jsonl" });
  assert.deepEqual(summary(records), [
    ["doc-1", "first"],
    ["line:2", "no id"],
    [42, "x"],
    ["line:4", "INVALID_JSON", records[3]!.ok ? "" : records[3]!.error.message],
    ["line:5", "INVALID_JSON", "line 5 is not a JSON object, received an array"],
    ["line:6", "MISSING_TEXT", 'line 6 (id "a") has no "text" field'],
    ["line:7", "MISSING_TEXT", 'line 7 (id "b"): "text" must be a string, received number'],
    ["line:8", "EMPTY_TEXT", 'line 8 (id "c"): "text" is empty'],
    [
      "line:9",
      "INVALID_ID",
      'line 9: "id" must be a non-empty string or a number, received null',
    ],
    ["line:10", "INVALID_ID", 'line 10: "id" must be a non-empty string or a number, received ""'],
    [1.5, "fine"],
  ]);
  assert.match(records[3]!.ok ? "" : records[3]!.error.message, /^line 4 is not valid JSON: /);
});

Deno.test("readInputs reads another text field with textField", async () => {
  const records = await read([bytes('{"id":1,"body":"b","text":"t"}\n')], {
    format: "jsonl",
    textField: "body",
  });
  assert.deepEqual(summary(records), [[1, "b"]]);
});

Deno.test("readInputs turns an overlong line into an error without keeping it", async () => {
  const records = await read([bytes(`ok\n${"x".repeat(100)}\nok too`)], { maxLineBytes: 50 });
  assert.deepEqual(summary(records), [
    [0, "ok"],
    [1, "LINE_TOO_LONG", "line 2 is 100 bytes, longer than the 50-byte limit"],
    [2, "ok too"],
  ]);
  await assert.rejects(read([], { maxLineBytes: 0 }), RangeError);
});

Deno.test("readInputs stops a pending read when its signal aborts", async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes("first\n"));
      // then nothing more: like a terminal waiting for input
    },
  });
  const controller = new AbortController();
  const reason = new Error("stop");
  const seen: InputRecord[] = [];
  const reading = (async () => {
    for await (const record of readInputs(stream, { signal: controller.signal })) {
      seen.push(record);
      controller.abort(reason);
    }
  })();
  await assert.rejects(reading, (error) => error === reason);
  assert.deepEqual(summary(seen), [[0, "first"]]);
});

Deno.test("formatFromPath picks JSONL by extension", () => {
  assert.equal(formatFromPath("a/b.JSONL"), "jsonl");
  assert.equal(formatFromPath("b.ndjson"), "jsonl");
  assert.equal(formatFromPath("b.jsonl.txt"), "text");
  assert.equal(formatFromPath("-"), "text");
});

Deno.test("readInputs skips exactly the lines that trim to nothing", async () => {
  const candidates = [
    " ",
    "\t",
    "\u00a0",
    "\u1680",
    "\u2000",
    "\u200a",
    "\u2028",
    "\u3000",
    "\ufeff",
    "\u0001",
    "\u200b",
    "\u0085",
    "x",
  ];
  const lines = candidates.flatMap((a) => candidates.map((b) => `${a}${b}`));
  const blank: number[] = [];
  const records = await Array.fromAsync(
    readInputs([bytes(lines.join("\n") + "\n")], { onBlankLine: (line) => blank.push(line) }),
  );
  const expected = lines.flatMap((line, i) => line.trim() === "" ? [i] : []);
  assert.deepEqual(blank, expected);
  assert.equal(records.length, lines.length - expected.length);
});

Deno.test("readInputs: line ids and explicit ids cannot collide; a bad line never takes a good line's id", async () => {
  const lines = [
    "{broken", // line 1: bad, gets line:1
    '{"id":1,"text":"explicit 1"}', // must not lose to line 1's record
    '{"text":"no id"}', // line:3
    '{"id":"line:3","text":"would collide"}', // refused: the line form is reserved
    '{"id":"x"}', // bad line with an id: gets line:5, "x" stays free
    '{"id":"x","text":"good x"}',
  ];
  const records = await read([bytes(lines.join("\n"))], { format: "jsonl" });
  assert.deepEqual(records.map((r) => [r.id, r.ok]), [
    ["line:1", false],
    [1, true],
    ["line:3", true],
    ["line:4", false],
    ["line:5", false],
    ["x", true],
  ]);
  assert.match(records[3]!.ok ? "" : records[3]!.error.message, /reserved for lines without an id/);
});

Deno.test("readInputs keeps numeric ids above 2^53 exactly as written", async () => {
  const lines = [
    '{"id":12345678901234567891,"text":"a"}',
    '{"id":12345678901234567892,"text":"b"}',
    '{"id":1.0,"text":"c"}',
  ];
  const records = await read([bytes(lines.join("\n"))], { format: "jsonl" });
  assert.deepEqual(records.map((r) => r.id), [
    12345678901234567891n,
    12345678901234567892n,
    "line:3",
  ]);
  assert.match(records[2]!.ok ? "" : records[2]!.error.message, /received 1\.0/);
});
