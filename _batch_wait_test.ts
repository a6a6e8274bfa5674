import assert from "node:assert/strict";
import { BatchWait } from "./_batch_wait.ts";
import { Channel } from "./channel.ts";
import { flush } from "./internal/fake_time.ts";

/** Whether `promise` has settled after pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await flush();
  return done;
}

Deno.test("BatchWait resolves when the channel holds the values asked for", async () => {
  const channel = new Channel<number>(10);
  const wait = new BatchWait(channel);
  const waiting = wait.wait(2);
  channel.trySend(1);
  assert.equal(await settled(waiting), false);
  channel.trySend(2);
  assert.equal(await settled(waiting), true);
  wait.dispose();
});

Deno.test("BatchWait resolves when a linked signal aborts, and waits on signals alone with 0", async () => {
  const channel = new Channel<number>(10);
  const controller = new AbortController();
  const wait = new BatchWait(channel, controller.signal);
  const waiting = wait.wait(0);
  channel.trySend(1); // not asked for
  assert.equal(await settled(waiting), false);
  controller.abort();
  assert.equal(await settled(waiting), true);
  wait.dispose();
});

Deno.test("BatchWait.dispose ends the waits: neither a linked signal nor the channel resolves them", async () => {
  const channel = new Channel<number>(10);
  const controller = new AbortController();
  const wait = new BatchWait(channel);
  wait.link(controller.signal);
  wait.link(controller.signal); // once only
  const waiting = wait.wait(1);
  wait.dispose();
  controller.abort();
  channel.trySend(1);
  assert.equal(await settled(waiting), false);
});
