// Test helper run as a subprocess by embedding_cache_test.ts: writes
// `batches` batches of `size` vectors (keys "<name>:<i>") to the cache at
// `path`, one transaction each, reading the other writer's keys as it goes,
// waiting after its first batch until the other's first batch is there,
// and prints "committed <n>" after each batch. With batches 0 it never stops.
import { cacheKey, EmbeddingCache } from "../mod.ts";

const [path, name, batchesArg, sizeArg, other] = Deno.args;
const batches = Number(batchesArg);
const size = Number(sizeArg);
const context = { model: "test", dimensions: 4 };
using cache = new EmbeddingCache(path!);
const encoder = new TextEncoder();
let seen = 0;
for (let b = 0; batches === 0 || b < batches; b++) {
  const entries = Array.from({ length: size }, (_, j) => {
    const i = b * size + j;
    return { key: cacheKey(context, `${name}:${i}`), vector: [i, i + 0.5, -i, 1] };
  });
  cache.putMany(entries);
  if (b === 0 && other !== undefined) {
    // Wait (a bounded while) for the other writer's first batch, so that the
    // two processes are known to run at the same time.
    const deadline = Date.now() + 20_000;
    while (cache.getMany([cacheKey(context, `${other}:0`)])[0] === undefined) {
      if (Date.now() > deadline) throw new Error(`never saw writer ${other}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    Deno.stdout.writeSync(encoder.encode(`met ${other}\n`));
  }
  if (other !== undefined) {
    const found = cache.getMany([cacheKey(context, `${other}:${b * size}`)]);
    if (found[0] !== undefined) seen++;
  }
  Deno.stdout.writeSync(encoder.encode(`committed ${b + 1}\n`));
}
Deno.stdout.writeSync(encoder.encode(`seen ${seen}\n`));
