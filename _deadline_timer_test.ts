import assert from "node:assert/strict";
import { DeadlineTimer, TIMER_LEAD_MS } from "./_deadline_timer.ts";
import { FakeTime, flush } from "./internal/fake_time.ts";

Deno.test("DeadlineTimer with no lead fires exactly at the deadline", async () => {
  using time = new FakeTime(0);
  const timers = new DeadlineTimer(0);
  const signal = timers.by(50, 0);
  assert.equal(timers.firesAt, 50);
  await time.tick(49);
  assert.equal(signal.aborted, false);
  await time.tick(1);
  assert.equal(signal.aborted, true);
});

Deno.test("DeadlineTimer with a lead fires a millisecond short, then on the next turns", async () => {
  using time = new FakeTime(0);
  const timers = new DeadlineTimer(TIMER_LEAD_MS);
  const timer = timers.by(50, 0);
  assert.equal(timers.firesAt, 49);
  await time.tick(48);
  assert.equal(timer.aborted, false);
  await time.tick(1);
  assert.equal(timer.aborted, true, "armed one millisecond short");
  // The last millisecond: a signal per event-loop turn, with no time passing.
  const turn = timers.by(50, 49);
  assert.notEqual(turn, timer);
  assert.equal(turn.aborted, false);
  await flush();
  assert.equal(turn.aborted, true);
  assert.equal(Date.now(), 49, "fake time did not move: the caller checks the clock again");
});

Deno.test("DeadlineTimer shares a pending timer with a later deadline, not an earlier one", async () => {
  using time = new FakeTime(0);
  const timers = new DeadlineTimer(0);
  const first = timers.by(50, 0);
  assert.equal(timers.by(80, 10), first, "fires first: the later deadline re-arms when it does");
  const earlier = timers.by(30, 10);
  assert.notEqual(earlier, first);
  assert.equal(timers.firesAt, 30);
  await time.tick(30);
  assert.equal(earlier.aborted, true);
  assert.equal(first.aborted, false);
  assert.notEqual(timers.by(50, 30), earlier, "a fired timer is not handed out again");
});

Deno.test("DeadlineTimer defaults to no lead under fake time", async () => {
  using time = new FakeTime(0);
  const timers = new DeadlineTimer();
  const signal = timers.by(20, 0);
  await time.tick(19);
  assert.equal(signal.aborted, false);
  await time.tick(1);
  assert.equal(signal.aborted, true);
});

Deno.test("DeadlineTimer made with the real clock takes no lead once time is faked", async () => {
  const timers = new DeadlineTimer();
  using time = new FakeTime(0);
  const signal = timers.by(20, 0);
  assert.equal(timers.firesAt, 20);
  await time.tick(20);
  assert.equal(signal.aborted, true);
});
