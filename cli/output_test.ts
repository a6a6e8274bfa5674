import assert from "node:assert/strict";
import { formatRecord, JsonlWriter, type WritableSink } from "./output.ts";
import { FakeTime } from "../internal/fake_time.ts";

/** A sink that records each write and can be made to take only part of it, or to wait. */
function sink(options: { partial?: number; gate?: () => Promise<void> } = {}) {
  const writes: string[] = [];
  const target: WritableSink = {
    async write(bytes) {
      await options.gate?.();
      const n = Math.min(bytes.length, options.partial ?? bytes.length);
      writes.push(new TextDecoder().decode(bytes.subarray(0, n)));
      return n;
    },
  };
  return { target, writes, text: () => writes.join("") };
}

Deno.test("formatRecord writes JSON that parses back to the record", () => {
  const line = formatRecord('a"b', { embedding: [0.1, -2e-7, 1] });
  assert.deepEqual(JSON.parse(line), { id: 'a"b', embedding: [0.1, -2e-7, 1] });
  const error = formatRecord(3, { error: { code: "X", message: "m", status: 429, attempts: 4 } });
  assert.deepEqual(JSON.parse(error), {
    id: 3,
    error: { code: "X", message: "m", status: 429, attempts: 4 },
  });
});

Deno.test("JsonlWriter batches lines into few writes and keeps their order", async () => {
  const out = sink({ partial: 7 }); // the sink takes at most 7 bytes per write
  const writer = new JsonlWriter(out.target, { bufferSize: 20, flushInterval: Infinity });
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) pending.push(writer.write(`line-${i}`));
  await Promise.all(pending);
  await writer.close();
  assert.equal(out.text(), Array.from({ length: 10 }, (_, i) => `line-${i}\n`).join(""));
  assert.equal(writer.linesWritten, 10);
  assert.equal(writer.bytesWritten, out.text().length);
});

Deno.test("JsonlWriter holds back the writer while a full buffer is being written", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const out = sink({ gate: () => gate });
  const writer = new JsonlWriter(out.target, { bufferSize: 10, flushInterval: Infinity });
  assert.equal(await Promise.race([writer.write("short"), "later"]), undefined);
  let done = false;
  const full = writer.write("long enough").then(() => done = true);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(done, false);
  release();
  await full;
  assert.equal(out.text(), "short\nlong enough\n");
  await writer.close();
});

Deno.test("JsonlWriter flushes a quiet buffer after flushInterval", async () => {
  using time = new FakeTime();
  const out = sink();
  const writer = new JsonlWriter(out.target, { bufferSize: 1000, flushInterval: 500 });
  await writer.write("a");
  await time.tick(499);
  assert.equal(out.text(), "");
  await time.tick(1);
  assert.equal(out.text(), "a\n");
  await writer.close();
});

Deno.test("JsonlWriter reports a failed write on the next call", async () => {
  const failing: WritableSink = { write: () => Promise.reject(new Error("disk full")) };
  const writer = new JsonlWriter(failing, { bufferSize: 1, flushInterval: Infinity });
  await assert.rejects(writer.write("x"), /disk full/);
  await assert.rejects(writer.write("y"), /disk full/);
  await assert.rejects(writer.close(), /disk full/);
  assert.throws(() => new JsonlWriter(failing, { bufferSize: 0 }), RangeError);
});

Deno.test("JsonlWriter counts only the whole lines a failing sink took", async () => {
  let taken = 0;
  const sink = {
    write(bytes: Uint8Array) {
      if (taken >= 12) return Promise.reject(new Error("No space left on device (os error 28)"));
      const n = Math.min(bytes.length, 12 - taken);
      taken += n;
      return Promise.resolve(n);
    },
  };
  const writer = new JsonlWriter(sink, { bufferSize: 1 << 16 });
  for (const line of ['{"id":0}', '{"id":1}', '{"id":2}']) await writer.write(line);
  await assert.rejects(writer.close(), /No space left/);
  assert.equal(writer.linesWritten, 1, "12 bytes hold the first line and part of the second");
  assert.equal(writer.bytesWritten, 12);
});
