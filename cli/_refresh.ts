// Internal: --refresh-changed. Reads the input once before the run and
// returns the check `prepareResume` uses to drop the records whose text
// changed: a record is stale when its input's cache key (model, dimensions,
// task type, title and text) differs from the `cache_key` it was written with,
// or when it has none (written without --cache). Records of ids no longer in
// the input, and of lines with files (not cached), are kept.

import { inputKey, keyToHex } from "../cache/key.ts";
import type { CliOptions } from "./args.ts";
import { formatFromPath, type InputId, readInputs } from "./input.ts";
import { keyContext } from "./_cache.ts";

/**
 * Each input's key is kept as a number made of its first 52 bits (exact in a
 * double): a changed text goes unnoticed with a chance of 2^-52. A number
 * costs far less than a string in the map: about 80 MB for a million inputs
 * with `doc-N` ids, most of it the ids themselves.
 */
function keyPrefix(hex: string): number {
  return parseInt(hex.slice(0, 8), 16) * 2 ** 20 + (parseInt(hex.slice(8, 16), 16) >>> 12);
}

/** Reads the input file and returns `isStale` for `prepareResume`. */
export async function staleCheck(
  options: CliOptions,
): Promise<(id: InputId, cacheKey: string | undefined) => boolean> {
  const path = options.input!;
  const context = keyContext(options);
  const keys = new Map<InputId, number>();
  using file = await Deno.open(path, { read: true });
  const records = readInputs(file.readable, {
    format: options.format ?? formatFromPath(path),
    textField: options.textField,
    titleField: options.titleField,
  });
  for await (const record of records) {
    // The first line of an id is the one the run embeds; later ones are skipped.
    // Lines with files are not cached: their records are kept as they are.
    if (!record.ok || record.files !== undefined || keys.has(record.id)) continue;
    // The input as the run builds it (corpus.ts, #contentOf), without media.
    const title = options.taskType === "RETRIEVAL_DOCUMENT" ? record.title : undefined;
    const key = inputKey(context, title === undefined ? record.text : { text: record.text, title });
    keys.set(record.id, keyPrefix(keyToHex(key!.subarray(0, 8))));
  }
  return (id, recorded) => {
    const current = keys.get(id);
    if (current === undefined) return false;
    return recorded === undefined || !/^[0-9a-f]{16}/.test(recorded) ||
      keyPrefix(recorded) !== current;
  };
}
