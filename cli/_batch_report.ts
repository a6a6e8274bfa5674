// Internal: the progress line and the summary of a --batch-api corpus run.

import type { BatchProgress } from "../batch/embed_with_batch_api.ts";
import { estimateCost } from "../batch/cost.ts";

/** What the CLI counts beside the engine's progress. */
export interface BatchCounts {
  read: number;
  written: number;
  errors: number;
  errorsByCode: Map<string, number>;
  skipped: number;
  badLines: number;
  repeated: number;
}

/** One progress line: jobs by state, request counts, records written, elapsed time. */
export function formatBatchProgress(progress: BatchProgress, counts: BatchCounts): string {
  const states = Object.entries(progress.jobs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([state, k]) => `${k} ${state.toLowerCase()}`)
    .join(", ");
  const { requests } = progress;
  return `embatch: jobs ${states || "none open"} (${n(progress.jobsDone)} done)` +
    ` | requests in open jobs ${n(requests.succeeded + requests.failed)}/${
      n(requests.total)
    } done` +
    ` | written ${n(counts.written)} (${n(counts.errors)} errors)` +
    (progress.retried > 0 ? ` | ${n(progress.retried)} retried` : "") +
    (progress.createsRefused > 0 ? ` | ${n(progress.createsRefused)} creates refused (429)` : "") +
    ` | ${clock(progress.elapsedMs / 1000)}`;
}

/** The summary printed at the end (or on detach) of a --batch-api run. */
export function summarizeBatch(
  progress: BatchProgress,
  counts: BatchCounts,
  model: string,
  price: number | undefined,
  outcome: "done" | "detached" | "stopped",
): string {
  const byCode = [...counts.errorsByCode].map(([code, k]) => `${code} ${n(k)}`).join(", ");
  const lines = [
    `embatch: ${outcome} after ${(progress.elapsedMs / 1000).toFixed(1)} s: ${
      n(counts.read)
    } inputs read, ` +
    `${n(counts.written - counts.errors)} embedded, ${n(counts.errors)} errors${
      byCode ? ` (${byCode})` : ""
    }`,
    `  skipped: ${n(counts.skipped)} already in the output (--resume), ${
      n(counts.badLines)
    } bad lines, ` +
    `${n(counts.repeated)} repeated ids`,
    `  jobs: ${n(progress.jobsCreated)} created, ${n(progress.jobsReattached)} reattached, ` +
    `${n(progress.jobsDone)} done, ${
      n(progress.jobsLost)
    } failed/expired/cancelled and resubmitted; ` +
    `${n(progress.retried)} inputs retried; ${
      n(progress.createsRefused)
    } creates refused at the cap (429)`,
  ];
  const cost = estimateCost(model, progress.tokens, price);
  const dated = price !== undefined ? `--price ${price}` : `prices of ${cost?.asOf}`;
  lines.push(
    `  tokens: ${n(progress.tokens)} billed` +
      (cost === undefined
        ? ` (no price known for ${model}: pass --price)`
        : `; estimated cost $${cost.batch.toFixed(4)} at batch price vs $${
          cost.interactive.toFixed(4)
        } interactive (${dated})`),
  );
  if (outcome === "detached") {
    const open = Object.values(progress.jobs).reduce((sum, k) => sum + k, 0);
    lines.push(
      `  detached: ${
        n(open)
      } jobs keep running at Google; run again with --resume to collect them, ` +
        `or with --cancel-jobs to cancel them`,
    );
  } else if (outcome === "stopped") {
    lines.push("  run again with --resume to reattach to the jobs and continue");
  } else if (counts.errors > 0) {
    lines.push("  the error records are retried by running again with --resume");
  }
  return lines.join("\n");
}

function n(value: number): string {
  return value.toLocaleString("en-US");
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
