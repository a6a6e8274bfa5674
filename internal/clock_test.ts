import assert from "node:assert/strict";
import { clockIsReal, now } from "./clock.ts";
import { FakeTime } from "./fake_time.ts";

Deno.test("now follows the faked Date while fake time is on", async () => {
  using time = new FakeTime(1_000);
  assert.equal(now(), 1_000);
  await time.tick(2.5);
  assert.equal(now(), 1_002.5);
});

Deno.test("now reads a monotonic clock close to Date.now with the real Date", () => {
  let last = now();
  for (let i = 0; i < 1000; i++) {
    const t = now();
    assert.ok(t >= last, "never goes back");
    last = t;
  }
  assert.ok(Math.abs(now() - Date.now()) < 1000, "near the wall clock");
});

Deno.test("clockIsReal is false only while Date is faked", () => {
  assert.equal(clockIsReal(), true);
  {
    using _time = new FakeTime(0);
    assert.equal(clockIsReal(), false);
  }
  assert.equal(clockIsReal(), true);
});
