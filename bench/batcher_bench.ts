// Batcher throughput without I/O, beside two peers: `deno task bench`.
//
// Every bench fn is `async` and awaits the whole run (a bench fn that returns
// an un-awaited promise times only the synchronous start). Each iteration
// batches ITEMS numbers, checks that every item arrived in a batch of at most
// the batch size, and is timed end to end; items/s = ITEMS / time.
//
// Two cases per batch size:
// - "streamed": a producer task awaits one `send` per item into a channel
//   (capacity = batch size) while the batcher stage and a consumer of its
//   batches run concurrently. This is how a real pipeline feeds the batcher.
// - "pre-buffered": all items are in the input before the batcher starts,
//   which times the drain loop alone.
//
// Peers, fed the same way: pre-buffered, a plain loop adds every item; streamed,
// the same producer and channel feed them through a `for await` loop, so every
// case pays the same cost to get items out of the stream. One more row feeds
// Bottleneck directly (`add` then `await null` per item, no channel at all), the
// cheapest possible feed, to show what the channel itself costs:
// - Bottleneck's `Batcher` (maxSize, maxTime): one setTimeout per batch.
// - DataLoader (maxBatchSize, cache off): it batches what is loaded within one
//   tick, so it has no timeout; it stands for "batch what is ready now".
// - naive: a receive raced against a fresh timer per item (set, then cleared).
import Bottleneck from "bottleneck";
import DataLoader from "dataloader";
import { type Batch, Batcher } from "../batcher.ts";
import { Channel } from "../channel.ts";

const ITEMS = 100_000;
type Mode = "streamed" | "pre-buffered" | "direct";
const TIMEOUT_MS = 1000;

function check(batches: number, items: number, batchSize: number): void {
  if (items !== ITEMS) throw new Error(`${items} items arrived, expected ${ITEMS}`);
  if (batches < Math.ceil(ITEMS / batchSize)) throw new Error(`${batches} batches: too few`);
}

/** Consumes the batcher's output, counting items and checking sizes. */
async function consume(output: Channel<Batch<number>>, batchSize: number): Promise<number[]> {
  let batches = 0;
  let items = 0;
  for await (const batch of output) {
    if (batch.items.length > batchSize) throw new Error("oversized batch");
    batches++;
    items += batch.items.length;
  }
  return [batches, items];
}

async function embatchStreamed(batchSize: number, strategy: "fixed" | "adaptive") {
  const { input, done } = produce(batchSize);
  const output = new Channel<Batch<number>>(4);
  const batcher = new Batcher<number>({ batchSize, timeout: TIMEOUT_MS, strategy });
  const stage = batcher.batch(input, output);
  const consumer = consume(output, batchSize);
  await done;
  await stage;
  const [batches, items] = await consumer;
  check(batches!, items!, batchSize);
}

async function embatchBuffered(batchSize: number, strategy: "fixed" | "adaptive") {
  const input = new Channel<number>(ITEMS);
  for (let i = 0; i < ITEMS; i++) input.trySend(i);
  input.close();
  const output = new Channel<Batch<number>>(4);
  const batcher = new Batcher<number>({ batchSize, timeout: TIMEOUT_MS, strategy });
  const stage = batcher.batch(input, output);
  const [batches, items] = await consume(output, batchSize);
  await stage;
  check(batches!, items!, batchSize);
}

/**
 * Starts the streaming producer: one awaited `send` per item into a channel
 * with room for one batch, then `close`. Every streamed case is fed by it.
 */
function produce(batchSize: number): { input: Channel<number>; done: Promise<void> } {
  const input = new Channel<number>(batchSize);
  const done = (async () => {
    for (let i = 0; i < ITEMS; i++) await input.send(i);
    input.close();
  })();
  return { input, done };
}

/** Feeds every item to `add`: pre-buffered (a plain loop) or streamed (from the producer). */
async function feed(batchSize: number, mode: Mode, add: (item: number) => void): Promise<void> {
  if (mode === "pre-buffered") {
    for (let i = 0; i < ITEMS; i++) add(i);
  } else if (mode === "direct") {
    for (let i = 0; i < ITEMS; i++) {
      add(i);
      await null;
    }
  } else {
    const { input, done } = produce(batchSize);
    for await (const item of input) add(item);
    await done;
  }
}

async function bottleneck(batchSize: number, mode: Mode) {
  const batcher = new Bottleneck.Batcher({ maxTime: TIMEOUT_MS, maxSize: batchSize });
  let batches = 0;
  let items = 0;
  batcher.on("batch", (batch: number[]) => {
    if (batch.length > batchSize) throw new Error("oversized batch");
    batches++;
    items += batch.length;
  });
  let last: Promise<unknown> = Promise.resolve();
  await feed(batchSize, mode, (item) => last = batcher.add(item));
  await last; // resolves when the batch holding the last item is flushed
  check(batches, items, batchSize);
}

async function dataLoader(batchSize: number, mode: Mode) {
  let batches = 0;
  let items = 0;
  const loader = new DataLoader<number, number>((keys) => {
    if (keys.length > batchSize) throw new Error("oversized batch");
    batches++;
    items += keys.length;
    return Promise.resolve(keys);
  }, { maxBatchSize: batchSize, cache: false });
  let last: Promise<number> = Promise.resolve(0);
  await feed(batchSize, mode, (item) => last = loader.load(item));
  await last;
  check(batches, items, batchSize);
}

/**
 * The per-item-timeout design: await every item, racing it against a fresh
 * timer (set, then cleared) instead of sharing one deadline per batch and
 * draining what is already buffered synchronously.
 */
async function naive(batchSize: number, streamed: boolean) {
  let input = new Channel<number>(ITEMS);
  let producer: Promise<void> = Promise.resolve();
  if (streamed) {
    ({ input, done: producer } = produce(batchSize));
  } else {
    for (let i = 0; i < ITEMS; i++) input.trySend(i);
    input.close();
  }
  let batches = 0;
  let items = 0;
  let open = 0;
  const emit = () => {
    batches++;
    items += open;
    open = 0;
  };
  while (true) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), TIMEOUT_MS);
    });
    const result = await Promise.race([input.receive(), timedOut]);
    clearTimeout(timer);
    if (result === "timeout") {
      if (open > 0) emit();
      continue;
    }
    if (!result.ok) break;
    open++;
    if (open === batchSize) emit();
  }
  if (open > 0) emit();
  await producer;
  check(batches, items, batchSize);
}

for (const batchSize of [100, 8]) {
  for (const streamed of [true, false]) {
    const mode: Mode = streamed ? "streamed" : "pre-buffered";
    const group = `batch size ${batchSize}, ${mode} (${ITEMS / 1000}k items per iteration)`;
    const name = (who: string) => `${who}, batch ${batchSize}, ${mode}`;
    Deno.bench({
      name: name("embatch Batcher fixed"),
      group,
      baseline: true,
      async fn() {
        await (streamed ? embatchStreamed : embatchBuffered)(batchSize, "fixed");
      },
    });
    Deno.bench({
      name: name("embatch Batcher adaptive"),
      group,
      async fn() {
        await (streamed ? embatchStreamed : embatchBuffered)(batchSize, "adaptive");
      },
    });
    Deno.bench({
      name: name("Bottleneck Batcher"),
      group,
      async fn() {
        await bottleneck(batchSize, mode);
      },
    });
    if (streamed) {
      Deno.bench({
        name: name("Bottleneck Batcher, add + await null per item (no channel)"),
        group,
        async fn() {
          await bottleneck(batchSize, "direct");
        },
      });
    }
    Deno.bench({
      name: name("DataLoader"),
      group,
      async fn() {
        await dataLoader(batchSize, mode);
      },
    });
    Deno.bench({
      name: name("naive timer per item"),
      group,
      async fn() {
        await naive(batchSize, streamed);
      },
    });
  }
}
