import assert from "node:assert/strict";
import { readJsonBody } from "./_body.ts";
import { HttpError } from "./_http_error.ts";

const post = (body: BodyInit | null, headers: Record<string, string> = {}) =>
  new Request("http://h/", { method: "POST", body, headers });

Deno.test("readJsonBody parses a body within the limit", async () => {
  assert.deepEqual(await readJsonBody(post('{"input":"hi"}'), 100), { input: "hi" });
});

Deno.test("readJsonBody refuses a body over the limit with 413, declared or streamed", async () => {
  const declared = post("x".repeat(20));
  await assert.rejects(
    readJsonBody(declared, 10),
    (e) => e instanceof HttpError && e.status === 413,
  );
  const chunks = ["[1,", "2,", "3,4,5,6]"].map((s) => new TextEncoder().encode(s));
  const streamed = post(ReadableStream.from(chunks));
  assert.equal(streamed.headers.get("content-length"), null);
  await assert.rejects(
    readJsonBody(streamed, 8),
    (e) => e instanceof HttpError && e.status === 413 && /limit is 8 bytes/.test(e.message),
  );
  const fits = post(ReadableStream.from(chunks));
  assert.deepEqual(await readJsonBody(fits, 64), [1, 2, 3, 4, 5, 6]);
});

Deno.test("readJsonBody answers 400 for a missing, non-UTF-8 or non-JSON body", async () => {
  for (const body of [null, new Uint8Array([0xff, 0xfe]), "{not json"]) {
    await assert.rejects(
      readJsonBody(post(body), 100),
      (e) => e instanceof HttpError && e.status === 400,
    );
  }
});
