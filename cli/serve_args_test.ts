import assert from "node:assert/strict";
import { UsageError } from "./args.ts";
import { parseServeArgs } from "./serve_args.ts";

Deno.test("parseServeArgs fills in the server's defaults", () => {
  const options = parseServeArgs([]);
  assert.equal(options.host, "127.0.0.1");
  assert.equal(options.port, 0);
  assert.equal(options.batchSize, 100);
  assert.equal(options.timeoutMs, 50);
  assert.equal(options.concurrency, 16);
  assert.equal(options.graceMs, 10_000);
  assert.equal(options.simulate, false);
  assert.equal(options.rpm, undefined);
});

Deno.test("parseServeArgs reads every upstream flag the corpus runs have", () => {
  const options = parseServeArgs([
    "--host=::1",
    "--port=8080",
    "--model=models/gemini-embedding-2",
    "--model=gemini-embedding-001",
    "--base-url=http://127.0.0.1:9/",
    "--batch-size=50",
    "--timeout=20ms",
    "--adaptive",
    "--concurrency=8",
    "--rpm=3000",
    "--tpm=1000000",
    "--call-timeout=30s",
    "--simulate",
    "--simulate-latency=150ms",
    "--token-file=tokens.txt",
    "--grace=2s",
  ]);
  assert.deepEqual(options.models, ["gemini-embedding-2", "gemini-embedding-001"]);
  assert.equal(options.baseUrl, "http://127.0.0.1:9");
  assert.deepEqual(
    [options.host, options.port, options.batchSize, options.timeoutMs, options.adaptive],
    ["::1", 8080, 50, 20, true],
  );
  assert.deepEqual([options.concurrency, options.rpm, options.tpm, options.callTimeoutMs], [
    8,
    3000,
    1_000_000,
    30_000,
  ]);
  assert.deepEqual(options.simulator.latency, { baseMs: 150 });
  assert.equal(options.tokenFile, "tokens.txt");
  assert.equal(options.graceMs, 2000);
});

Deno.test("parseServeArgs names the flag and the value it refuses", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--port", "70000"], /Invalid --port: .* received "70000"/],
    [["--batch-size", "101"], /Invalid --batch-size/],
    [["--timeout", "0"], /Invalid --timeout: expected more than 0/],
    [["--model", "a b"], /Invalid --model/],
    [["--base-url", "ftp://x"], /Invalid --base-url/],
    [["--simulate-rpm", "5"], /need --simulate/],
    [["--frobnicate"], /frobnicate/],
  ];
  for (const [args, message] of cases) {
    await t.step(
      args.join(" "),
      () =>
        assert.throws(
          () => parseServeArgs(args),
          (e) => e instanceof UsageError && message.test(e.message),
        ),
    );
  }
});
