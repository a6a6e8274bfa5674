// How late does a partial batch leave after its deadline? `deno task bench:deadline`.
//
// With real timers: for each of BATCHES batches, send one item into a batcher
// stage (timeout TIMEOUT_MS), and time with performance.now() when the batch
// arrives on the output channel. Lateness = arrival − (send + TIMEOUT_MS).
// Prints p50/p99/max; the target is p99 ≤ 2 ms. A busy task runs beside the
// batcher (a 0.2 ms chunk of work every millisecond) so the event loop is
// not idle, as it would not be in a real pipeline. A batch whose own
// `emittedAt - openedAt` is below the timeout (one that left early) stops the run;
// a negative `min` would show a batch received before its deadline.
import { type Batch, Batcher } from "../batcher.ts";
import { Channel } from "../channel.ts";

const BATCHES = Number(Deno.args[0] ?? 500);
const TIMEOUT_MS = 20;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(strategy: "fixed" | "adaptive", busy: boolean): Promise<number[]> {
  const batcher = new Batcher<number>({ batchSize: 100, timeout: TIMEOUT_MS, strategy });
  // Adaptive: report the downstream as saturated, so every batch waits for its maxWait.
  batcher.setBackpressure(true);
  const input = new Channel<number>(100);
  const output = new Channel<Batch<number>>(1);
  const stage = batcher.batch(input, output);
  let running = true;
  const load = busy
    ? (async () => {
      while (running) {
        const until = performance.now() + 0.2;
        while (performance.now() < until) { /* work */ }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })()
    : Promise.resolve();
  const lateness: number[] = [];
  for (let i = 0; i < BATCHES; i++) {
    const sentAt = performance.now();
    await input.send(i);
    const result = await output.receive();
    const arrivedAt = performance.now();
    if (!result.ok || result.value.reason !== "timeout") throw new Error("expected a timeout");
    const { openedAt, emittedAt } = result.value;
    if (emittedAt - openedAt < TIMEOUT_MS) {
      throw new Error(`batch left ${TIMEOUT_MS - (emittedAt - openedAt)} ms early`);
    }
    lateness.push(arrivedAt - (sentAt + TIMEOUT_MS));
  }
  running = false;
  await load;
  input.close();
  await stage;
  return lateness.sort((a, b) => a - b);
}

console.log(
  `${BATCHES} partial batches per row, timeout ${TIMEOUT_MS} ms, lateness = received − deadline`,
);
// The runtime's own floor: how late a bare AbortSignal.timeout fires, with no batcher.
{
  const lateness: number[] = [];
  for (let i = 0; i < BATCHES; i++) {
    const start = performance.now();
    await new Promise<void>((resolve) =>
      AbortSignal.timeout(TIMEOUT_MS).addEventListener("abort", () => resolve(), { once: true })
    );
    lateness.push(performance.now() - start - TIMEOUT_MS);
  }
  lateness.sort((a, b) => a - b);
  console.log(
    `bare AbortSignal.timeout (runtime floor) p50 ${percentile(lateness, 50).toFixed(3)} ms  p99 ${
      percentile(lateness, 99).toFixed(3)
    } ms  max ${lateness.at(-1)!.toFixed(3)} ms`,
  );
}
let worstP99 = -Infinity;
for (const strategy of ["fixed", "adaptive"] as const) {
  for (const busy of [false, true]) {
    const lateness = await measure(strategy, busy);
    const p99 = percentile(lateness, 99);
    worstP99 = Math.max(worstP99, p99);
    console.log(
      `${strategy.padEnd(8)} ${busy ? "busy loop " : "idle loop "} p50 ${
        percentile(lateness, 50).toFixed(3)
      } ms  p99 ${p99.toFixed(3)} ms  max ${lateness.at(-1)!.toFixed(3)} ms  min ${
        lateness[0]!.toFixed(3)
      } ms`,
    );
  }
}
console.log(
  worstP99 <= 2
    ? `PASS: p99 lateness ≤ 2 ms in every row (worst ${worstP99.toFixed(3)} ms)`
    : `MISS: worst p99 lateness ${worstP99.toFixed(3)} ms > 2 ms`,
);
