// Internal: what an output file was made with (model, dimensions, task type,
// normalisation),
// recorded in a sidecar `OUTPUT.meta.json` so that `--resume` never mixes
// embedding spaces. A sidecar rather than a header record keeps the output a
// plain JSONL file of one record per id. To record another setting, add it to
// SETTINGS and fill it in `settingsOf`. A sidecar written before a setting was
// recorded says nothing of it, and the flags decide.

import type { CliOptions } from "./args.ts";

/** The settings that decide which embedding space a vector is in; `null` means the default. */
export type OutputSettings = Record<string, string | number | boolean | null>;

/** How each recorded setting maps to its flag and to the options. */
interface Setting {
  key: string;
  flag: string;
  /** The option's value (`null` when unset), or `undefined` when the flag was not given. */
  given(options: CliOptions): string | number | boolean | null | undefined;
  /** The options with the recorded value filled in. */
  apply(options: CliOptions, value: string | number | boolean | null): CliOptions;
  /** How a value reads in a message; `FLAG VALUE`, or `no FLAG` for `null`, when unset. */
  show?(value: string | number | boolean | null): string;
}

const SETTINGS: readonly Setting[] = [
  {
    key: "model",
    flag: "--model",
    given: (o) => o.flagsGiven.has("model") ? o.model.replace(/^models\//, "") : undefined,
    apply: (o, v) => typeof v === "string" ? { ...o, model: v } : o,
  },
  {
    key: "dimensions",
    flag: "--dimensions",
    given: (o) => o.flagsGiven.has("dimensions") ? o.dimensions ?? null : undefined,
    apply: (o, v) => ({ ...o, dimensions: typeof v === "number" ? v : undefined }),
  },
  {
    key: "taskType",
    flag: "--task-type",
    given: (o) => o.flagsGiven.has("task-type") ? o.taskType ?? null : undefined,
    apply: (o, v) => ({
      ...o,
      taskType: typeof v === "string" ? v as CliOptions["taskType"] : undefined,
    }),
  },
  {
    key: "normalize",
    flag: "--no-normalize",
    given: (o) => o.flagsGiven.has("no-normalize") ? o.normalize : undefined,
    apply: (o, v) => ({ ...o, normalize: v !== false }),
    show: (v) => v === false ? "--no-normalize" : "unit-length vectors (no --no-normalize)",
  },
];

/** The sidecar's path for an output file. */
export function settingsPath(output: string): string {
  return `${output}.meta.json`;
}

/** The settings a run with these options makes vectors with. */
export function settingsOf(options: CliOptions): OutputSettings {
  return {
    model: options.model.replace(/^models\//, ""),
    dimensions: options.dimensions ?? null,
    taskType: options.taskType ?? null,
    normalize: options.normalize,
  };
}

/** Reads the sidecar; `undefined` when there is none. Throws a message-ready Error if it is not ours. */
export async function readSettings(output: string): Promise<OutputSettings | undefined> {
  const path = settingsPath(output);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(
      `Cannot resume from ${output}: ${path} is not a JSON object, so what the file was made with is unknown; fix or remove it`,
    );
  }
  const { embatch: _, ...settings } = value as Record<string, unknown>;
  return settings as OutputSettings;
}

/**
 * Writes the sidecar. It is a couple of hundred bytes written in one go, so it
 * is written in place: a temporary file and a rename would need read and
 * write permission for one more name in the narrow permission form. (A torn
 * record, however unlikely, is refused by `readSettings`, never misread.)
 */
export async function writeSettings(output: string, settings: OutputSettings): Promise<void> {
  await Deno.writeTextFile(
    settingsPath(output),
    JSON.stringify({ embatch: 1, ...settings }, null, 2) + "\n",
  );
}

/**
 * Fills the options in from the recorded settings where their flags were not
 * given; returns a message naming both values when a given flag disagrees.
 */
export function applySettings(
  options: CliOptions,
  recorded: OutputSettings,
  output: string,
): CliOptions | string {
  let merged = options;
  for (const setting of SETTINGS) {
    if (!(setting.key in recorded)) continue;
    const was = recorded[setting.key] ?? null;
    const now = setting.given(options);
    if (now === undefined) {
      merged = setting.apply(merged, was);
    } else if (now !== was) {
      const show = setting.show ??
        ((v: unknown) => v === null ? `no ${setting.flag}` : `${setting.flag} ${v}`);
      return `embatch: cannot resume ${output}: it was made with ${show(was)}, not ${
        show(now)
      } (recorded in ${
        settingsPath(output)
      }); mixing them would put vectors of different spaces in one file: drop the flag to use the recorded value, or write to another --output`;
    }
  }
  return merged;
}
