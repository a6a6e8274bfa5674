// Batcher throughput without I/O: `deno task bench` (or `deno bench bench/`).
// Each iteration batches ITEMS numbers that are already buffered in the input
// channel, which measures the drain loop itself (tryReceive, batch assembly,
// output send). The naive baseline beside it awaits one receive per item and
// creates a fresh AbortSignal.timeout for every item, as a batcher without a
// shared deadline or a synchronous drain would.
import { type Batch, Batcher } from "../batcher.ts";
import { Channel } from "../channel.ts";

const ITEMS = 100_000;

async function runBatcher(batchSize: number, strategy: "fixed" | "adaptive") {
  const input = new Channel<number>(ITEMS);
  for (let i = 0; i < ITEMS; i++) input.trySend(i);
  input.close();
  const output = new Channel<Batch<number>>(Math.ceil(ITEMS / batchSize) + 1);
  await new Batcher<number>({ batchSize, timeout: 1000, strategy }).batch(input, output);
  if (output.size !== Math.ceil(ITEMS / batchSize)) throw new Error("lost a batch");
}

/**
 * The per-item-timeout design: await every item, racing it against a fresh
 * timer (set, then cleared) instead of sharing one deadline per batch and
 * draining what is already buffered synchronously.
 */
async function runNaive(batchSize: number) {
  const input = new Channel<number>(ITEMS);
  for (let i = 0; i < ITEMS; i++) input.trySend(i);
  input.close();
  const output: Batch<number>[] = [];
  let items: number[] = [];
  let index = 0;
  const emit = () => {
    output.push({ items, reason: "size", index: index++, openedAt: 0, emittedAt: 0 });
    items = [];
  };
  while (true) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), 1000);
    });
    const result = await Promise.race([input.receive(), timedOut]);
    clearTimeout(timer);
    if (result === "timeout") {
      if (items.length > 0) emit();
      continue;
    }
    if (!result.ok) break;
    items.push(result.value);
    if (items.length === batchSize) emit();
  }
  if (items.length > 0) emit();
  if (output.length !== Math.ceil(ITEMS / batchSize)) throw new Error("lost a batch");
}

for (const batchSize of [8, 100]) {
  const group = `batcher, batch size ${batchSize} (${ITEMS / 1000}k items per iteration)`;
  Deno.bench({
    name: `Batcher fixed, batch size ${batchSize}`,
    group,
    baseline: true,
    fn: () => runBatcher(batchSize, "fixed"),
  });
  Deno.bench({
    name: `Batcher adaptive, batch size ${batchSize}`,
    group,
    fn: () => runBatcher(batchSize, "adaptive"),
  });
  Deno.bench({
    name: `naive: a timer and an awaited receive per item, batch size ${batchSize}`,
    group,
    fn: () => runNaive(batchSize),
  });
}
