// Channel microbenchmarks: `deno task bench` (or `deno bench bench/`).
// Each iteration moves OPS values through a channel; ops/s = OPS / time.
import { Channel } from "../channel.ts";

const OPS = 10_000;
const group = `channel (${OPS / 1000}k values per iteration)`;

Deno.bench({
  name: "trySend + tryReceive (buffered, synchronous)",
  group,
  baseline: true,
  fn() {
    const channel = new Channel<number>(64);
    for (let i = 0; i < OPS; i++) {
      channel.trySend(i);
      const result = channel.tryReceive();
      if (!result.ok) throw new Error("empty");
    }
  },
});

Deno.bench({
  name: "await send + await receive (buffered)",
  group,
  async fn() {
    const channel = new Channel<number>(64);
    for (let i = 0; i < OPS; i++) {
      await channel.send(i);
      const result = await channel.receive();
      if (!result.ok) throw new Error("empty");
    }
  },
});

for (const capacity of [0, 64]) {
  Deno.bench({
    name: `producer and consumer tasks, capacity ${capacity}`,
    group,
    async fn() {
      const channel = new Channel<number>(capacity);
      const producer = (async () => {
        for (let i = 0; i < OPS; i++) await channel.send(i);
        channel.close();
      })();
      let received = 0;
      for await (const _ of channel) received++;
      await producer;
      if (received !== OPS) throw new Error("lost values");
    },
  });
}
