// Internal: the corpus run's --cache: where the file is, opening it as a
// setup step, the key context of a run, and the summary line.

import { CacheFileError } from "../cache/file_error.ts";
import { type CacheStats, EmbeddingCache } from "../cache/embedding_cache.ts";
import type { CacheKeyContext } from "../cache/key.ts";
import type { CliOptions } from "./args.ts";
import type { MainIO } from "./io.ts";
import { describeFileError } from "./_describe.ts";
import { modelProfile } from "../gemini/models.ts";

/**
 * Resolves `--cache`: `default` is `$XDG_CACHE_HOME/embatch/cache.sqlite`, else
 * `~/.cache/embatch/cache.sqlite` (`%LOCALAPPDATA%\embatch\cache.sqlite` on
 * Windows); anything else is the path itself. `undefined` when `default`
 * cannot be found (no HOME).
 */
export function cachePath(
  value: string,
  env: (name: string) => string | undefined,
): string | undefined {
  if (value !== "default") return value;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg !== undefined && xdg.startsWith("/")) return `${xdg}/embatch/cache.sqlite`;
  if (Deno.build.os === "windows") {
    const local = env("LOCALAPPDATA");
    if (local !== undefined) return `${local}\\embatch\\cache.sqlite`;
  }
  const home = env("HOME") ?? env("USERPROFILE");
  return home === undefined ? undefined : `${home}/.cache/embatch/cache.sqlite`;
}

/** Opens the run's cache, creating the default directory; a failure is returned as the line to print. */
export async function openCache(
  options: Pick<CliOptions, "cache" | "cacheMaxSize">,
  io: MainIO,
): Promise<EmbeddingCache | string> {
  const path = cachePath(options.cache!, io.env);
  if (path === undefined) {
    return "embatch: --cache default needs HOME or XDG_CACHE_HOME to find the cache directory; give --cache a path instead";
  }
  try {
    if (options.cache === "default") {
      await Deno.mkdir(path.replace(/[\\/][^\\/]*$/, ""), { recursive: true });
    }
    return new EmbeddingCache(path, {
      ...(options.cacheMaxSize !== undefined && { maxSize: options.cacheMaxSize }),
    });
  } catch (error) {
    if (error instanceof CacheFileError) {
      return `embatch: --cache: ${error.message}; delete it or pass another --cache path`;
    }
    return `embatch: cannot open --cache ${path}: ${describeCacheError(error)}`;
  }
}

function describeCacheError(error: unknown): string {
  // node:sqlite reports a missing directory or permission as "unable to open database file".
  if (
    error instanceof Error && "errcode" in error && (error as { errcode: number }).errcode === 14
  ) {
    return "unable to open the file (does its directory exist, and is it writable?)";
  }
  return describeFileError(error);
}

/**
 * The model as the cache keys it: vectors kept as returned (`--no-normalize`)
 * must not be served as normalised ones, or the other way round.
 */
export function cacheModel(model: string, normalize: boolean): string {
  return normalize ? model : `${model}#as-returned`;
}

/** What determines a corpus run's vectors besides the text. */
export function keyContext(options: CliOptions): CacheKeyContext {
  return {
    model: cacheModel(options.model, options.normalize),
    ...(options.dimensions !== undefined && { dimensions: options.dimensions }),
    ...(options.taskType !== undefined && { taskType: options.taskType }),
  };
}

/** What the cache did in a run, for the summary. */
export interface CacheCounts {
  hits: number;
  misses: number;
  shared: number;
  /** Estimated tokens of the hits and shared misses: not sent. */
  savedTokens: number;
}

/** The summary line of the cache: hits, misses, tokens and cost saved, and its size. */
export function describeCacheUse(
  counts: CacheCounts,
  path: string,
  stats: CacheStats,
  model: string,
): string {
  const price = modelProfile(model).price?.text;
  const cost = price === undefined
    ? ""
    : `, ~${usd(counts.savedTokens / 1e6 * price)} at $${price.toFixed(2)}/1M tokens`;
  return `  cache: ${n(counts.hits)} hits, ${n(counts.misses)} misses` +
    `${counts.shared > 0 ? ` (${n(counts.shared)} shared a call with the same text)` : ""}; ` +
    `saved ~${n(counts.savedTokens)} tokens (estimated)${cost}; ` +
    `${path}: ${n(stats.entries)} vectors, ${(stats.bytes / 1e6).toFixed(1)} MB` +
    `${stats.evicted > 0 ? `, ${n(stats.evicted)} evicted` : ""}`;
}

function usd(value: number): string {
  return value === 0 || value >= 0.01 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
}

function n(value: number): string {
  return value.toLocaleString("en-US");
}
