import assert from "node:assert/strict";
import { Channel, ChannelClosedError } from "./channel.ts";

Deno.test("Channel delivers values in order and ends iteration on close", async () => {
  const channel = new Channel<number>(3);
  const producer = (async () => {
    for (let i = 0; i < 100; i++) await channel.send(i);
    channel.close();
  })();
  const received = await Array.fromAsync(channel);
  await producer;
  assert.deepEqual(received, Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("Channel send waits while the buffer is full (backpressure)", async () => {
  const channel = new Channel<string>(1);
  await channel.send("a");
  let sent = false;
  const pending = channel.send("b").then(() => sent = true);
  await Promise.resolve();
  assert.equal(sent, false);
  assert.deepEqual(channel.tryReceive(), { ok: true, value: "a" });
  await pending;
  assert.equal(sent, true);
  assert.equal(channel.size, 1);
});

Deno.test("Channel with capacity 0 is a rendezvous", async () => {
  const channel = new Channel<number>();
  assert.equal(channel.trySend(1), false);
  const received = channel.receive();
  assert.equal(channel.trySend(1), true);
  assert.deepEqual(await received, { ok: true, value: 1 });
  const sending = channel.send(2);
  assert.deepEqual(channel.tryReceive(), { ok: true, value: 2 });
  await sending;
});

Deno.test("Channel carries undefined as an ordinary value", async () => {
  const channel = new Channel<undefined | number>(2);
  await channel.send(undefined);
  await channel.send(1);
  channel.close();
  assert.deepEqual(await Array.fromAsync(channel), [undefined, 1]);
});

Deno.test("Channel close drains buffered values and blocked senders before the end", async () => {
  const channel = new Channel<number>(1);
  await channel.send(1);
  const blocked = channel.send(2);
  channel.close();
  assert.deepEqual(await channel.receive(), { ok: true, value: 1 });
  assert.deepEqual(await channel.receive(), { ok: true, value: 2 });
  await blocked;
  assert.deepEqual(await channel.receive(), { ok: false, closed: true });
  assert.deepEqual(channel.tryReceive(), { ok: false, closed: true });
});

Deno.test("Channel close wakes waiting receivers with the end", async () => {
  const channel = new Channel<number>(1);
  const waiting = [channel.receive(), channel.receive()];
  channel.close();
  assert.deepEqual(await Promise.all(waiting), [
    { ok: false, closed: true },
    { ok: false, closed: true },
  ]);
});

Deno.test("Channel send after close rejects with the unsent value", async () => {
  const channel = new Channel<{ id: number }>(1);
  channel.close();
  channel.close();
  const value = { id: 7 };
  const error = await channel.send(value).catch((e) => e);
  assert.ok(error instanceof ChannelClosedError);
  assert.equal(error.value, value);
  assert.match(error.message, /closed/);
  assert.throws(() => channel.trySend(value), ChannelClosedError);
});

Deno.test("Channel tryReceive reports empty without waiting", () => {
  const channel = new Channel<number>(1);
  assert.deepEqual(channel.tryReceive(), { ok: false, closed: false });
});

Deno.test("Channel receive aborted by a signal rejects with its reason and loses nothing", async (t) => {
  await t.step("already aborted", async () => {
    const channel = new Channel<number>(1);
    await channel.send(1);
    const reason = new Error("stop");
    await assert.rejects(
      channel.receive({ signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    assert.equal(channel.size, 1);
  });
  await t.step("aborted while waiting", async () => {
    const channel = new Channel<number>(1);
    const controller = new AbortController();
    const waiting = channel.receive({ signal: controller.signal });
    const reason = new Error("late");
    controller.abort(reason);
    await assert.rejects(waiting, (e) => e === reason);
    await channel.send(5);
    assert.deepEqual(await channel.receive(), { ok: true, value: 5 });
  });
});

Deno.test("Channel send aborted by a signal withdraws the value", async () => {
  const channel = new Channel<number>(1);
  await channel.send(1);
  const controller = new AbortController();
  const blocked = channel.send(2, { signal: controller.signal });
  controller.abort(new Error("cancel"));
  await assert.rejects(blocked, /cancel/);
  channel.close();
  assert.deepEqual(await Array.fromAsync(channel), [1]);
});

Deno.test("Channel sweeps out many abandoned receivers", async () => {
  const channel = new Channel<number>(1);
  for (let i = 0; i < 1000; i++) {
    const controller = new AbortController();
    const waiting = channel.receive({ signal: controller.signal });
    controller.abort();
    await waiting.catch(() => {});
  }
  // Still correct after the sweep: the next value reaches the next live receiver.
  const live = channel.receive();
  await channel.send(42);
  assert.deepEqual(await live, { ok: true, value: 42 });
});

Deno.test("Channel rejects an invalid capacity", () => {
  for (const capacity of [-1, 1.5, NaN]) {
    assert.throws(() => new Channel(capacity), {
      name: "RangeError",
      message:
        `Cannot create channel: capacity must be a non-negative integer, received ${capacity}`,
    });
  }
});

Deno.test("Channel.whenReadable wakes once the values asked for are there", async (t) => {
  await t.step("at once when enough are buffered", () => {
    const channel = new Channel<number>(4);
    channel.trySend(1);
    let wakes = 0;
    channel.whenReadable(() => wakes++);
    assert.equal(wakes, 1);
  });
  await t.step("on the value that reaches atLeast, once", () => {
    const channel = new Channel<number>(8);
    let wakes = 0;
    channel.whenReadable(() => wakes++, 3);
    channel.trySend(1);
    channel.trySend(2);
    assert.equal(wakes, 0);
    channel.trySend(3);
    channel.trySend(4);
    assert.equal(wakes, 1);
  });
  await t.step("when the buffer is full, even short of atLeast", () => {
    const channel = new Channel<number>(2);
    let wakes = 0;
    channel.whenReadable(() => wakes++, 10);
    channel.trySend(1);
    assert.equal(wakes, 0);
    channel.trySend(2);
    assert.equal(wakes, 1);
  });
  await t.step("when a sender waits on a rendezvous channel", async () => {
    const channel = new Channel<string>(0);
    let wakes = 0;
    channel.whenReadable(() => wakes++);
    const sent = channel.send("x");
    assert.equal(wakes, 1);
    assert.deepEqual(channel.tryReceive(), { ok: true, value: "x" });
    await sent;
  });
  await t.step("on close", () => {
    const channel = new Channel<number>(1);
    let wakes = 0;
    channel.whenReadable(() => wakes++);
    channel.close();
    assert.equal(wakes, 1);
  });
  await t.step("every waiter, each once; a repeated registration counts once", () => {
    const channel = new Channel<number>(4);
    const calls: string[] = [];
    const a = () => calls.push("a");
    const b = () => calls.push("b");
    channel.whenReadable(a, 2);
    channel.whenReadable(a, 2);
    channel.whenReadable(b);
    channel.trySend(1); // with two waiters, any value wakes both
    channel.trySend(2);
    assert.deepEqual(calls, ["a", "b"]);
  });
  await t.step("not after cancelWhenReadable", () => {
    const channel = new Channel<number>(4);
    const calls: string[] = [];
    const a = () => calls.push("a");
    const b = () => calls.push("b");
    channel.whenReadable(a);
    channel.whenReadable(b);
    channel.cancelWhenReadable(a);
    channel.cancelWhenReadable(b);
    channel.trySend(1);
    assert.deepEqual(calls, []);
  });
  await t.step("rejects a bad atLeast", () => {
    const channel = new Channel<number>(1);
    assert.throws(
      () => channel.whenReadable(() => {}, 0),
      (e) => e instanceof RangeError && e.message.includes("received 0"),
    );
  });
});
