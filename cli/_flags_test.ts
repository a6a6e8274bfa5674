import assert from "node:assert/strict";
import { cacheMaxSize, duration, integer, positiveDuration, url } from "./_flags.ts";
import { UsageError } from "./usage_error.ts";

Deno.test("flag values: whole numbers, durations, URLs and sizes, each naming the flag", () => {
  assert.equal(integer("n", undefined, 7, 1, 10), 7);
  assert.equal(integer("n", "3", 7, 1, 10), 3);
  assert.throws(
    () => integer("n", "11", 7, 1, 10),
    /Invalid --n: expected a whole number from 1 to 10, received "11"/,
  );
  assert.throws(() => integer("n", "0", 7, 1, Number.MAX_SAFE_INTEGER), /at least 1/);
  assert.equal(duration("t", "250ms", 0), 250);
  assert.equal(duration("t", "inf", 0, true), Infinity);
  assert.throws(() => duration("t", "inf", 0), /Invalid --t: expected a finite duration/);
  assert.throws(
    () => positiveDuration("t", "0", 1),
    /Invalid --t: expected more than 0, received "0"/,
  );
  assert.equal(url("u", "http://127.0.0.1:8/"), "http://127.0.0.1:8");
  assert.throws(() => url("u", "ftp://x"), UsageError);
  assert.equal(cacheMaxSize("2KiB"), 2048);
  assert.throws(() => cacheMaxSize("lots"), /Invalid --cache-max-size/);
});
