// The corpus benchmarks' shared parts (bench:cli, bench:batch): the corpus
// they write, the peak memory of the run they time, and the check of its output.

import { simulatedEmbedding } from "../simulator/server.ts";

/** The vector size every corpus benchmark asks for. */
export const DIMENSIONS = 8;

/** The text of line `i`: varied, about 15 tokens. */
export const text = (i: number): string =>
  `Document ${i}: a sentence about topic ${i % 997} with some filler words ${
    "lorem ".repeat(i % 7)
  }`;

/**
 * How the corpus names its lines: `"numbered"` ids are `doc-N` (a prefix and
 * a line number, which the CLI's id set keeps as one bit each); `"hashed"`
 * ids are `uN-` and six letters from a hash of N (`u17-ubvebt`), which end in
 * no number and so take the id set's general path (a hash table and the
 * id's bytes).
 */
export type IdStyle = "numbered" | "hashed";

/** The id of line `i`. */
export function idOf(i: number, style: IdStyle = "numbered"): string {
  if (style === "numbered") return `doc-${i}`;
  let h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  let letters = "";
  for (let k = 0; k < 6; k++, h = Math.floor(h / 26)) letters += String.fromCharCode(97 + h % 26);
  return `u${i}-${letters}`;
}

/** The line number an id of either style was written for. */
function lineOf(id: string): number {
  return id.startsWith("doc-") ? Number(id.slice(4)) : Number(id.slice(1, id.indexOf("-")));
}

/** Writes `count` JSONL lines (`{"id":…,"text":…}`) and resolves with the file's size. */
export async function writeCorpus(
  path: string,
  count: number,
  ids: IdStyle = "numbered",
): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  for (let start = 0; start < count; start += 10_000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(count, start + 10_000); i++) {
      lines.push(JSON.stringify({ id: idOf(i, ids), text: text(i) }));
    }
    const bytes = encoder.encode(lines.join("\n") + "\n");
    for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
  }
  const { size } = await file.stat();
  file.close();
  return size;
}

/** Samples VmHWM of the process `pid` and its children (under /usr/bin/time) until `done`. */
export async function peakFromProc(pid: number, done: Promise<unknown>): Promise<number> {
  let peak = 0;
  let finished = false;
  done.then(() => finished = true);
  while (!finished) {
    for (const p of [pid, ...await children(pid)]) {
      try {
        const status = await Deno.readTextFile(`/proc/${p}/status`);
        peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      } catch { /* exited */ }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return peak;
}

async function children(pid: number): Promise<number[]> {
  try {
    const list = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
    return list.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Streams an output file: one record per id, each with its own text's vector. */
export async function verify(path: string, count: number): Promise<string> {
  const seen = new Uint8Array(count);
  let records = 0;
  const file = await Deno.open(path);
  let rest = "";
  for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const record = JSON.parse(line);
      const i = lineOf(String(record.id));
      if (seen[i]) throw new Error(`id ${record.id} appears twice`);
      seen[i] = 1;
      if (record.embedding === undefined) throw new Error(`id ${record.id} is an error: ${line}`);
      const expected = simulatedEmbedding(text(i), DIMENSIONS);
      if (JSON.stringify(record.embedding) !== JSON.stringify(expected)) {
        throw new Error(`id ${record.id} has the wrong vector`);
      }
      records++;
    }
  }
  if (rest !== "") throw new Error("the output ends with a torn line");
  if (records !== count) throw new Error(`${records} records for ${count} inputs`);
  return `verified: ${count.toLocaleString("en-US")} records, one per id, each its text's vector`;
}
