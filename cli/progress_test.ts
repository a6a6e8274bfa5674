import assert from "node:assert/strict";
import { formatProgress, ProgressReporter, type ProgressStats } from "./progress.ts";
import { FakeTime } from "../internal/fake_time.ts";

const base: Omit<ProgressStats, "elapsedMs"> = {
  done: 0,
  errors: 0,
  skipped: 0,
  bytes: 0,
  totalBytes: undefined,
  retries: undefined,
  rateLimited: undefined,
};

Deno.test("formatProgress shows bytes read when the size is unknown, and skips", () => {
  assert.equal(
    formatProgress({ ...base, done: 1234567, skipped: 10, bytes: 2.5e9, elapsedMs: 1000 }),
    "1,234,567 done | 10 skipped | 2.50 GB read | 1,234,567/s",
  );
  assert.equal(
    formatProgress({ ...base, done: 1, errors: 1, retries: 1, rateLimited: 0, elapsedMs: 0 }),
    "1 done (1 error) | 0.0 MB read | -/s | 1 retry | 0 × 429",
  );
  assert.match(
    formatProgress({ ...base, done: 1, bytes: 1, totalBytes: 7201, elapsedMs: 1000 }),
    /ETA 2:00:00$/,
  );
});

Deno.test("ProgressReporter redraws one live line on a terminal and keeps notes above it", async () => {
  using time = new FakeTime();
  const written: string[] = [];
  let done = 0;
  const progress = new ProgressReporter({
    stats: () => ({ ...base, done }),
    write: (text) => void written.push(text),
    terminal: true,
  });
  progress.start();
  done = 10;
  await time.tick(250);
  assert.deepEqual(written, ["\r\x1b[2K10 done | 0.0 MB read | 40/s"]);
  progress.note("embatch: line 3 is not valid JSON");
  assert.deepEqual(written.slice(1), [
    "\r\x1b[2Kembatch: line 3 is not valid JSON\n",
    "\r\x1b[2K10 done | 0.0 MB read | 40/s",
  ]);
  progress.stop();
  assert.equal(written.at(-1), "\r\x1b[2K");
  await time.tick(1000);
  assert.equal(written.length, 4);
});

Deno.test("ProgressReporter prints plain lines every 10 s when not on a terminal", async () => {
  using time = new FakeTime();
  const written: string[] = [];
  const progress = new ProgressReporter({
    stats: () => ({ ...base, done: 100 }),
    write: (text) => void written.push(text),
    terminal: false,
  });
  progress.start();
  await time.tick(9999);
  assert.deepEqual(written, []);
  await time.tick(1);
  assert.deepEqual(written, ["100 done | 0.0 MB read | 10/s\n"]);
  progress.stop();
  assert.throws(
    () =>
      new ProgressReporter({ stats: () => base, write: () => {}, terminal: false, interval: 0 }),
    RangeError,
  );
});

Deno.test("formatProgress shows what the run is waiting for", () => {
  const line = formatProgress({
    done: 10,
    errors: 0,
    skipped: 0,
    bytes: 100,
    totalBytes: 1000,
    retries: 1,
    rateLimited: 1,
    waiting: "quota: paused by a 429 for 0:42 more",
    elapsedMs: 1000,
  });
  assert.match(line, /1 retry \| 1 × 429 \| waiting: quota: paused by a 429 for 0:42 more$/);
});
