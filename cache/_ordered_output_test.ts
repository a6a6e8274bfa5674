import assert from "node:assert/strict";
import { OrderedOutput } from "./_ordered_output.ts";

interface Item {
  name: string;
  held: number;
  ready: boolean;
}

Deno.test("OrderedOutput writes in push order, as the head becomes ready, and counts held bytes", async () => {
  const written: string[] = [];
  const output = new OrderedOutput<Item>(
    (item) => item.ready,
    (item) => void written.push(item.name),
  );
  const a: Item = { name: "a", held: 0, ready: false };
  const b: Item = { name: "b", held: 8, ready: true };
  output.push(a);
  output.push(b);
  assert.equal(output.heldBytes, 8);
  await output.pump();
  assert.deepEqual(written, []); // b waits behind a
  a.ready = true;
  await output.pump();
  assert.deepEqual(written, ["a", "b"]);
  assert.equal(output.heldBytes, 0);
  assert.equal(output.length, 0);
});

Deno.test("OrderedOutput runs one drain at a time and rejects pump with a failed write", async () => {
  const failure = new Error("full");
  let calls = 0;
  const output = new OrderedOutput<Item>(() => true, async () => {
    calls++;
    await Promise.resolve();
    throw failure;
  });
  output.push({ name: "a", held: 0, ready: true });
  const [first, second] = [output.pump(), output.pump()];
  assert.equal(first, second);
  await assert.rejects(first, (error) => error === failure);
  assert.equal(calls, 1);
  const stop = new AbortController();
  const waiting = output.written(stop.signal);
  stop.abort(new Error("stopped"));
  await assert.rejects(waiting, /stopped/);
});
