/**
 * The CLI's progress report on stderr: a live line redrawn in place on a
 * terminal, a plain line every so often otherwise.
 *
 * @module
 */

import { now } from "../internal/clock.ts";

/** What a progress line shows; read from the run each time the line is drawn. */
export interface ProgressStats {
  /** Records written so far: embeddings and errors. */
  done: number;
  /** Of those, error records. */
  errors: number;
  /** Inputs skipped because an earlier run embedded them (`--resume`). */
  skipped: number;
  /** Input bytes behind the records written (and the lines skipped). */
  bytes: number;
  /** The input's size in bytes, when known (a file, not a pipe). */
  totalBytes: number | undefined;
  /** Calls retried so far, when the embedder counts them. */
  retries: number | undefined;
  /** Calls answered 429 so far, when the embedder counts them. */
  rateLimited: number | undefined;
  /** What the run is waiting for right now (an outage, the quota), shown as it happens. */
  waiting?: string | undefined;
  /** Milliseconds since the run started. */
  elapsedMs: number;
}

/**
 * Formats one progress line.
 *
 * @param stats What to show.
 * @returns The line, without a newline.
 *
 * @example Usage
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * import assert from "node:assert/strict";
 *
 * const line = formatProgress({
 *   done: 5000, errors: 2, skipped: 0, bytes: 250_000, totalBytes: 1_000_000,
 *   retries: 3, rateLimited: 1, elapsedMs: 10_000,
 * });
 * assert.equal(line, "5,000 done (2 errors) | 25.0% of 1.0 MB | 500/s | ETA 0:30 | 3 retries | 1 × 429");
 * ```
 */
export function formatProgress(stats: ProgressStats): string {
  const parts: string[] = [];
  const errors = stats.errors === 1 ? "1 error" : `${count(stats.errors)} errors`;
  parts.push(`${count(stats.done)} done${stats.errors > 0 ? ` (${errors})` : ""}`);
  if (stats.skipped > 0) parts.push(`${count(stats.skipped)} skipped`);
  const seconds = stats.elapsedMs / 1000;
  if (stats.totalBytes !== undefined && stats.totalBytes > 0) {
    const fraction = Math.min(1, stats.bytes / stats.totalBytes);
    parts.push(`${(fraction * 100).toFixed(1)}% of ${megabytes(stats.totalBytes)}`);
  } else {
    parts.push(`${megabytes(stats.bytes)} read`);
  }
  parts.push(`${seconds > 0 ? count(Math.round(stats.done / seconds)) : "-"}/s`);
  if (stats.totalBytes !== undefined && stats.bytes > 0 && seconds > 0) {
    const remaining = Math.max(0, stats.totalBytes - stats.bytes) / (stats.bytes / seconds);
    parts.push(`ETA ${clock(remaining)}`);
  }
  if (stats.retries !== undefined) {
    parts.push(stats.retries === 1 ? "1 retry" : `${count(stats.retries)} retries`);
  }
  if (stats.rateLimited !== undefined) parts.push(`${count(stats.rateLimited)} × 429`);
  if (stats.waiting !== undefined) parts.push(`waiting: ${stats.waiting}`);
  return parts.join(" | ");
}

/** Options of {@linkcode ProgressReporter}. */
export interface ProgressReporterOptions {
  /** Reads the run's current figures. */
  stats: () => Omit<ProgressStats, "elapsedMs">;
  /** Writes text to stderr as is (no newline added). */
  write: (text: string) => void;
  /** Whether stderr is a terminal: a live line redrawn in place, else plain lines. */
  terminal: boolean;
  /**
   * How often a line is drawn, in milliseconds.
   *
   * @default {250 on a terminal, else 10000}
   */
  interval?: number;
}

const CLEAR_LINE = "\r\x1b[2K";

/**
 * Draws progress lines until stopped, and prints notes without garbling the
 * live line.
 *
 * @example A plain line every interval when stderr is not a terminal
 * ```ts
 * import { ProgressReporter } from "./progress.ts";
 * import assert from "node:assert/strict";
 *
 * const written: string[] = [];
 * const progress = new ProgressReporter({
 *   stats: () => ({ done: 1, errors: 0, skipped: 0, bytes: 5, totalBytes: undefined, retries: undefined, rateLimited: undefined }),
 *   write: (text) => void written.push(text),
 *   terminal: false,
 * });
 * progress.note("a note");
 * progress.stop();
 * assert.deepEqual(written, ["a note\n"]);
 * ```
 */
export class ProgressReporter {
  #options: ProgressReporterOptions;
  #interval: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #startedAt = now();
  #drawn = false;

  /**
   * Creates the reporter; call {@linkcode ProgressReporter.start} to begin drawing.
   *
   * @param options Where the figures come from and where lines go.
   * @throws {RangeError} If `interval` is not positive.
   */
  constructor(options: ProgressReporterOptions) {
    this.#options = options;
    this.#interval = options.interval ?? (options.terminal ? 250 : 10_000);
    if (!(this.#interval > 0)) {
      throw new RangeError(
        `Cannot create progress reporter: interval must be positive, received ${this.#interval}`,
      );
    }
  }

  /** Starts drawing a line every interval. */
  start(): void {
    this.#startedAt = now();
    this.#timer ??= setInterval(() => this.draw(), this.#interval);
  }

  /** Draws the current line now. */
  draw(): void {
    const line = formatProgress({ ...this.#options.stats(), elapsedMs: now() - this.#startedAt });
    if (this.#options.terminal) {
      this.#options.write(CLEAR_LINE + line);
      this.#drawn = true;
    } else {
      this.#options.write(line + "\n");
    }
  }

  /**
   * Prints a line of its own, above the live line on a terminal.
   *
   * @param line The text, without a newline.
   */
  note(line: string): void {
    if (this.#drawn) {
      this.#options.write(`${CLEAR_LINE}${line}\n`);
      this.draw();
    } else {
      this.#options.write(line + "\n");
    }
  }

  /** Stops drawing and clears the live line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.#options.write(CLEAR_LINE);
    this.#drawn = false;
  }
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function megabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
