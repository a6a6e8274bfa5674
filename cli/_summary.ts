// Internal: the corpus run's counters and the summary printed at its end.

import type { BatchReason } from "../batcher.ts";
import type { LatencyHistogram } from "../internal/histogram.ts";
import type { EmbeddingMetrics } from "../metrics.ts";
import type { ResumeState } from "./resume.ts";

/** What a corpus run counts as it goes. */
export interface Counts {
  read: number;
  embedded: number;
  errors: number;
  errorsByCode: Map<string, number>;
  skipped: number;
  blank: number;
  repeated: number;
  tokens: number;
  batches: Record<BatchReason, number>;
  readBytes: number;
}

/** Counters at zero. */
export function newCounts(): Counts {
  return {
    read: 0,
    embedded: 0,
    errors: 0,
    errorsByCode: new Map(),
    skipped: 0,
    blank: 0,
    repeated: 0,
    tokens: 0,
    batches: { size: 0, timeout: 0, end: 0 },
    readBytes: 0,
  };
}

/** Gemini counts roughly one token per four characters of English. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function describeResume(output: string, state: ResumeState): string {
  if (!state.exists) {
    return `embatch: --resume: ${output} does not exist yet; starting from the top`;
  }
  const parts = [`${n(state.embedded)} embedded records kept`];
  if (state.errors > 0) parts.push(`${n(state.errors)} error records dropped to be retried`);
  if (state.duplicates > 0) parts.push(`${n(state.duplicates)} repeated records dropped`);
  if (state.stale > 0) {
    parts.push(`${n(state.stale)} records of changed texts dropped to be embedded again`);
  }
  if (state.tornBytes > 0) {
    parts.push(`an unfinished last line (${n(state.tornBytes)} bytes) cut off`);
  }
  return `embatch: resuming ${output}: ${parts.join(", ")}`;
}

export function summarize(
  counts: Counts,
  metrics: EmbeddingMetrics,
  latency: LatencyHistogram,
  elapsedMs: number,
  interrupted: boolean,
  failed: boolean,
  truncate = false,
): string {
  const seconds = elapsedMs / 1000;
  const state = interrupted ? "interrupted" : failed ? "stopped" : "done";
  const byCode = [...counts.errorsByCode].map(([code, k]) => `${code} ${n(k)}`).join(", ");
  const b = counts.batches;
  const total = b.size + b.timeout + b.end;
  const stats = metrics.summary();
  const ms = (value: number) => `${value.toFixed(0)} ms`;
  const stage = stats.itemLatencyMs;
  const lines = [
    `embatch: ${state} after ${seconds.toFixed(1)} s: ${n(counts.read)} inputs read, ` +
    `${n(counts.embedded)} embedded, ${n(counts.errors)} errors${byCode ? ` (${byCode})` : ""}`,
    `  skipped: ${n(counts.skipped)} already embedded (--resume), ${
      n(counts.blank)
    } blank lines, ` +
    `${n(counts.repeated)} repeated ids`,
    `  batches: ${n(total)} (${n(b.size)} full, ${n(b.timeout)} timed out, ${n(b.end)} final), ` +
    `${n(stats.calls)} API calls (${n(stats.retries)} retries, ${
      n(stats.rateLimited)
    } answered 429), ` +
    `~${n(counts.tokens)} tokens (estimated)`,
    `  throughput: ${n(Math.round(counts.embedded / Math.max(seconds, 0.001)))} inputs/s; ` +
    `latency per input: embedding p50 ${ms(stage.p50)}, p95 ${ms(stage.p95)}, p99 ${
      ms(stage.p99)
    }; ` +
    `read to written p50 ${ms(latency.quantile(0.5))}, p95 ${ms(latency.quantile(0.95))}, ` +
    `p99 ${ms(latency.quantile(0.99))}`,
  ];
  const tooLong = counts.errorsByCode.get("TOKEN_LIMIT") ?? 0;
  if (counts.errors > tooLong && !interrupted && !failed) {
    lines.push("  the error records are retried by running again with --resume");
  }
  if (tooLong > 0) {
    lines.push(
      truncate
        ? `  ${n(tooLong)} inputs are over the token limit even when cut (--max-input-tokens)`
        : `  ${
          n(tooLong)
        } texts are over the token limit: --resume with --truncate embeds their start`,
    );
  }
  if (interrupted || failed) lines.push("  run again with --resume to continue");
  return lines.join("\n");
}

function n(value: number): string {
  return value.toLocaleString("en-US");
}
