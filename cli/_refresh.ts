// Internal: --refresh-changed. Reads the input once before the run and
// returns the check `prepareResume` uses to drop the records whose text
// changed: a record is stale when its input's cache key (model, dimensions,
// task type, title and text) differs from the `cache_key` it was written with,
// or when it has none (written without --cache). Records of ids no longer in
// the input are kept.

import { cacheKey, keyToHex } from "../cache/key.ts";
import type { CliOptions } from "./args.ts";
import { formatFromPath, type InputId, readInputs } from "./input.ts";
import { keyContext } from "./_cache.ts";

/**
 * Hex digits of each input's key kept for the comparison: 64 bits. Keeping
 * all 64 would double the memory of this map (about 100 bytes per input as it
 * is) for a chance of a missed change of 2^-64 per edited text.
 */
const KEPT_HEX_DIGITS = 16;

/** Reads the input file and returns `isStale` for `prepareResume`. */
export async function staleCheck(
  options: CliOptions,
): Promise<(id: InputId, cacheKey: string | undefined) => boolean> {
  const path = options.input!;
  const context = keyContext(options);
  const keys = new Map<InputId, string>();
  using file = await Deno.open(path, { read: true });
  const records = readInputs(file.readable, {
    format: options.format ?? formatFromPath(path),
    textField: options.textField,
  });
  for await (const record of records) {
    // The first line of an id is the one the run embeds; later ones are skipped.
    if (!record.ok || keys.has(record.id)) continue;
    keys.set(record.id, keyToHex(cacheKey(context, record.text)).slice(0, KEPT_HEX_DIGITS));
  }
  return (id, recorded) => {
    const current = keys.get(id);
    if (current === undefined) return false;
    return recorded === undefined || recorded.slice(0, KEPT_HEX_DIGITS) !== current;
  };
}
