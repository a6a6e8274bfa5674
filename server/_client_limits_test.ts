import assert from "node:assert/strict";
import { ClientLimits } from "./_client_limits.ts";
import { FakeTime } from "../internal/fake_time.ts";

Deno.test("ClientLimits caps each client's requests in flight, not the others'", () => {
  const limits = new ClientLimits(2, Infinity);
  const a1 = limits.admit(0);
  const a2 = limits.admit(0);
  assert.ok(a1.ok && a2.ok);
  const a3 = limits.admit(0);
  assert.deepEqual(a3, { ok: false, reason: "concurrency", retryAfterSeconds: 1 });
  assert.ok(limits.admit(1).ok, "another client is not affected");
  a1.release();
  a1.release(); // releasing twice frees one slot only
  assert.ok(limits.admit(0).ok);
  assert.equal(limits.admit(0).ok, false);
});

Deno.test("ClientLimits holds each client to its request rate, refilled by the clock", async () => {
  using time = new FakeTime();
  const limits = new ClientLimits(100, 2);
  const admitted = () => {
    const admission = limits.admit(7);
    if (admission.ok) admission.release();
    return admission;
  };
  assert.ok(admitted().ok);
  assert.ok(admitted().ok);
  const refused = admitted();
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.reason, "rate");
  assert.equal(!refused.ok && refused.retryAfterSeconds, 0.5);
  await time.tick(499);
  assert.equal(admitted().ok, false);
  await time.tick(1);
  assert.ok(admitted().ok);
  assert.throws(() => new ClientLimits(0, 1), RangeError);
  assert.throws(() => new ClientLimits(1, 0), RangeError);
});
