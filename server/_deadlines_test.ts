import assert from "node:assert/strict";
import { Deadlines } from "./_deadlines.ts";
import { FakeTime } from "../internal/fake_time.ts";

Deno.test("Deadlines expires each unfinished request after the timeout, on one timer", async () => {
  using time = new FakeTime();
  const deadlines = new Deadlines(100);
  const expired: string[] = [];
  const finishA = deadlines.add(() => expired.push("a"));
  await time.tick(30);
  deadlines.add(() => expired.push("b"));
  await time.tick(30);
  const finishC = deadlines.add(() => expired.push("c"));
  finishA();
  finishA(); // finishing twice is harmless
  await time.tick(40); // a's deadline: a finished, so nothing expires
  assert.deepEqual(expired, []);
  await time.tick(29);
  assert.deepEqual(expired, []);
  await time.tick(1); // b's deadline: 30 + 100
  assert.deepEqual(expired, ["b"]);
  finishC();
  await time.tick(100);
  assert.deepEqual(expired, ["b"]);
  assert.equal(deadlines.size, 0, "nothing left, and no timer left running");
});

Deno.test("Deadlines clears its timer once every request has finished", async () => {
  using time = new FakeTime();
  const deadlines = new Deadlines(1000);
  const finish = deadlines.add(() => assert.fail("must not expire"));
  await time.tick(10);
  finish();
  assert.equal(deadlines.size, 0);
  await time.tick(2000);
});
