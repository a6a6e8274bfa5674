import assert from "node:assert/strict";
import { describeNetworkFailure } from "./network_failure.ts";

Deno.test("describeNetworkFailure reads real fetch failures from a closed loopback port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const error = await fetch(`http://127.0.0.1:${port}/x`).then(() => undefined, (e) => e);
  assert.deepEqual(describeNetworkFailure(error), {
    kind: "network",
    host: `127.0.0.1:${port}`,
    reason: "connection refused",
  });
});

Deno.test("describeNetworkFailure tells timeouts and answers from network failures", () => {
  const timeout = new DOMException("Call timed out: no answer within 2.5s", "TimeoutError");
  assert.deepEqual(describeNetworkFailure(timeout), {
    kind: "timeout",
    host: undefined,
    reason: "no answer within 2.5s",
  });
  assert.equal(describeNetworkFailure(new Error("400 bad request")).kind, "other");
  const reset = new TypeError("fetch failed", { cause: new Error("connection reset by peer") });
  assert.equal(describeNetworkFailure(reset).reason, "connection reset");
  const unknown = new TypeError("fetch failed", { cause: new Error("something odd") });
  assert.equal(describeNetworkFailure(unknown).reason, "something odd");
});
