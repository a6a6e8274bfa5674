import assert from "node:assert/strict";
import { exactNumericId } from "./_json_id.ts";

Deno.test("exactNumericId keeps ids above 2^53 exactly, as written", () => {
  assert.equal(exactNumericId('{"id":12345678901234567891,"text":"a"}'), 12345678901234567891n);
  assert.equal(exactNumericId('{"id":-9007199254740993}'), -9007199254740993n);
  assert.equal(exactNumericId('{"id":42}'), 42);
  assert.equal(exactNumericId('{"id":2.5}'), 2.5);
});

Deno.test("exactNumericId reads the top-level id only, and refuses forms it cannot keep", () => {
  assert.equal(exactNumericId('{"meta":{"id":1},"id":9007199254740993}'), 9007199254740993n);
  assert.equal(exactNumericId('{"id":1.0}'), undefined);
  assert.equal(exactNumericId('{"id":1e3}'), undefined);
  assert.equal(exactNumericId('{"id":"7"}'), undefined);
});

Deno.test("exactNumericId's fast path for a parsed integer agrees with the full parse", () => {
  const lines = [
    '{"id":42,"text":"a"}',
    '{"text":"a", "id" : -7 }',
    '{"id":1.0}',
    '{"id":1e3}',
    '{"meta":{"id":1},"id":1.0}',
    '{"meta":{"id":1},"id":1}',
    '{"id":5,"text":"the \\"id\\": 6, inside a string"}',
  ];
  for (const line of lines) {
    const parsed = JSON.parse(line).id as number;
    assert.equal(exactNumericId(line, parsed), exactNumericId(line), line);
  }
});
