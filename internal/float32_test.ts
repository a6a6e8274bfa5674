import assert from "node:assert/strict";
import { apiFloat, apiFloats } from "./float32.ts";

/** Significant digits of a number as JSON prints it. */
function significantDigits(value: number): number {
  const mantissa = JSON.stringify(Math.abs(value)).replace(/e.*$/, "").replace(".", "");
  return mantissa.replace(/^0+/, "").replace(/0+$/, "").length;
}

/** A deterministic spread of values: unit-vector sized, tiny, large, and powers of ten. */
function samples(): number[] {
  const values = [0, -0, 1, -1, 0.1, 1e-3, 10, 1e-7, 3.4e38, 1e-40, -0.022374554];
  let state = 12345;
  for (let i = 0; i < 20_000; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const unit = state / 2 ** 32 * 2 - 1;
    values.push(unit, unit / 1000, unit * 1e-6, unit * 37, unit / 1e12);
  }
  return values;
}

Deno.test("apiFloat gives the float32 of a value, printed in its fewest digits, at most 9", () => {
  for (const value of samples()) {
    const rounded = apiFloat(value);
    assert.equal(Math.fround(rounded), Math.fround(value), `${value}`);
    assert.ok(significantDigits(rounded) <= 9, `${value} -> ${JSON.stringify(rounded)}`);
    const digits = significantDigits(rounded);
    if (digits > 1) {
      const shorter = Number(Math.fround(value).toPrecision(digits - 1));
      assert.notEqual(Math.fround(shorter), Math.fround(value), `${value}: no shorter decimal`);
    }
    assert.ok(JSON.parse(JSON.stringify(rounded)) === rounded, "the JSON text parses back to it");
  }
});

Deno.test("apiFloat writes a value as the API's JSON does", () => {
  assert.equal(JSON.stringify(apiFloat(0.3392801214388199)), "0.33928013");
  assert.equal(JSON.stringify(apiFloat(-0.022374554)), "-0.022374554");
  assert.equal(JSON.stringify(apiFloat(0.5)), "0.5");
  assert.equal(apiFloat(0), 0);
  assert.equal(apiFloat(-1), -1);
});

Deno.test("apiFloats prints a stored float32 vector with the API's digits", () => {
  const stored = Float32Array.from([-0.022374554, 0.5, 0.3392801214388199]);
  assert.equal(
    JSON.stringify(Array.from(stored)),
    "[-0.022374553605914116,0.5,0.3392801284790039]",
  );
  assert.equal(JSON.stringify(apiFloats(stored)), "[-0.022374554,0.5,0.33928013]");
  assert.deepEqual(Float32Array.from(apiFloats(stored)), stored, "the same float32 values");
});
