// runPipeline's own cost per item, without I/O: `deno task bench`.
//
// Each iteration runs ITEMS inputs through all four stages (enqueue, batcher,
// embed stage with its ResilientEmbedder, writer) against an embedder that
// answers at once, and checks every item was written; items/s = ITEMS / time.
import { runPipeline } from "../pipeline.ts";

const ITEMS = 100_000;
const VECTOR = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
const embedder = {
  embed: (texts: readonly string[]) => Promise.resolve(texts.map(() => VECTOR)),
};

async function* documents() {
  for (let i = 0; i < ITEMS; i++) yield { id: `doc-${i}`, text: `Document ${i}` };
}

for (const strategy of ["fixed", "adaptive"] as const) {
  Deno.bench({
    name: `runPipeline, ${strategy}, batch size 100, instant embedder`,
    group: `pipeline (${ITEMS / 1000}k items per iteration)`,
    baseline: strategy === "fixed",
    async fn() {
      let written = 0;
      const summary = await runPipeline({
        inputs: documents(),
        embedder,
        strategy,
        text: (d) => d.text,
        write: () => void written++,
      });
      if (written !== ITEMS || summary.succeeded !== ITEMS) throw new Error("lost items");
    },
  });
}
