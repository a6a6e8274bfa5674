import assert from "node:assert/strict";
import { parseCliArgs } from "./args.ts";
import { apiEndpoint } from "./_endpoint.ts";

const io = (env: Record<string, string>) => ({
  stdout: () => {},
  stderr: () => {},
  env: (name: string) => env[name],
});

Deno.test("apiEndpoint names where calls go and which setting said so", () => {
  const plain = parseCliArgs(["--input", "x"]);
  assert.deepEqual(apiEndpoint(plain, io({}), undefined), {
    url: "https://generativelanguage.googleapis.com",
    host: "generativelanguage.googleapis.com",
    from: undefined,
  });
  assert.deepEqual(
    apiEndpoint(plain, io({ GOOGLE_GEMINI_BASE_URL: "http://127.0.0.1:8080" }), undefined),
    { url: "http://127.0.0.1:8080", host: "127.0.0.1:8080", from: "GOOGLE_GEMINI_BASE_URL" },
  );
  const flag = parseCliArgs(["--input", "x", "--base-url", "http://proxy:9000/"]);
  assert.deepEqual(apiEndpoint(flag, io({ GOOGLE_GEMINI_BASE_URL: "http://x" }), undefined), {
    url: "http://proxy:9000",
    host: "proxy:9000",
    from: "--base-url",
  });
  assert.equal(apiEndpoint(flag, io({}), "http://127.0.0.1:5/").from, undefined, "the simulator");
});
