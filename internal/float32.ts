// Internal: an embedding value as the Gemini API writes it in JSON. The API's
// vectors are protobuf `repeated float`: float32 values, each printed as the
// shortest decimal that reads back as that float32 (at most 9 significant
// digits), e.g. -0.022374554. The simulator writes its vectors so, and the
// cache gives back stored (float32) vectors so, so that a cache hit prints
// exactly as the API's answer did.

/** 10^k for k in 0…22: the powers of ten a double holds exactly. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * `value` rounded to float32, then to the shortest decimal (at most 9
 * significant digits) that rounds back to that float32: the number a client
 * parses from the API's JSON text. `JSON.stringify` prints it with those
 * digits, and `Math.fround` of it is `Math.fround(value)`.
 */
export function apiFloat(value: number): number {
  const single = Math.fround(value);
  if (single === 0 || !Number.isFinite(single)) return single;
  const exponent = Math.floor(Math.log10(Math.abs(single)));
  // Most float32 values need 8 digits, some 7 or 9: start at 7, then go up, or down while it holds.
  let digits = 7;
  let best = roundTo(single, exponent, digits);
  while (best === undefined && digits < 9) best = roundTo(single, exponent, ++digits);
  while (best !== undefined && digits > 1) {
    const shorter = roundTo(single, exponent, digits - 1);
    if (shorter === undefined) break;
    best = shorter;
    digits--;
  }
  return best ?? shortestByFormatter(single);
}

/** The slow way, for values beyond the powers of ten a double holds exactly (below 1e-14). */
function shortestByFormatter(single: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const rounded = Number(single.toPrecision(digits));
    if (Math.fround(rounded) === single) return rounded;
  }
  return Number(single.toPrecision(9));
}

/** `single` rounded to `digits` significant digits, if that reads back as `single`. */
function roundTo(single: number, exponent: number, digits: number): number | undefined {
  const k = digits - 1 - exponent;
  if (k < 0 || k >= POWERS_OF_TEN.length) return undefined;
  const scale = POWERS_OF_TEN[k]!;
  // An integer below 10^9 divided by an exact power of ten: the double nearest that decimal.
  const rounded = Math.round(single * scale) / scale;
  return Math.fround(rounded) === single ? rounded : undefined;
}

/**
 * A stored float32 vector as the numbers a client parses from the API's JSON:
 * each value through {@linkcode apiFloat}, so `JSON.stringify` prints the
 * API's digits rather than the float32's full binary expansion.
 */
export function apiFloats(vector: Float32Array): number[] {
  const values = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) values[i] = apiFloat(vector[i]!);
  return values;
}
