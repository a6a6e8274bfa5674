// Internal: numeric ids kept exactly as written. JSON.parse turns
// 12345678901234567891 into 12345678901234567000, so two database or
// snowflake ids above 2^53 could collide and the output id would not be the
// input id. For a line whose "id" is a number, the id's own source text is
// read back (JSON.parse's reviver gets each value's source) and kept: as a
// number when that prints back the same, as a bigint when it is an integer
// beyond 2^53. Used by the input reader and the resume scanner.

type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown;

const FIRST_INTEGER_ID = /"id"\s*:\s*(-?\d+)\s*[,}]/;

/**
 * The exact id of a JSON object text whose top-level `"id"` parsed to a
 * number: a number if it prints back as written, a bigint if it is an integer
 * too large for a number, or `undefined` if it cannot be kept exactly (such
 * as `1.0` or `1e3`: write those ids as strings). `parsed`, the value
 * `JSON.parse` gave the id, lets a plain integer skip the second parse.
 */
export function exactNumericId(json: string, parsed?: number): number | bigint | undefined {
  if (parsed !== undefined && Number.isSafeInteger(parsed)) {
    // The common case, a plain integer id, without parsing the line again:
    // when `"id"` stands once in the text, it is the object's own key (quotes
    // inside JSON strings are escaped), and its source must print back as is.
    const match = FIRST_INTEGER_ID.exec(json);
    if (
      match !== null && match[1] === String(parsed) &&
      json.indexOf('"id"', match.index + 4) === -1
    ) {
      return parsed;
    }
  }
  const sources = new Map<unknown, string>();
  const reviver: Reviver = function (key, value, context) {
    if (key === "id" && typeof value === "number" && context?.source !== undefined) {
      sources.set(this, context.source);
    }
    return value;
  };
  const root = JSON.parse(json, reviver as Parameters<typeof JSON.parse>[1]);
  const source = sources.get(root);
  if (source === undefined) return undefined;
  const value = Number(source);
  if (String(value) === source) return value;
  if (/^-?[1-9]\d*$/.test(source) && !Number.isSafeInteger(value)) return BigInt(source);
  return undefined;
}
