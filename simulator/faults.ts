/**
 * The faults the simulator can inject into calls it has admitted, chosen by
 * seeded probability or by a script, and the latency model that decides how
 * long each call takes.
 *
 * @module
 */

import { seededRandom } from "../internal/random.ts";

/**
 * What can go wrong with one call:
 * - `"error500"`: `500 INTERNAL`, "An internal error has occurred. ...".
 * - `"error503"`: `503 UNAVAILABLE`, "The model is overloaded. Please try again later.".
 * - `"latencySpike"`: the call succeeds, but `latencySpike.ms` later than usual.
 * - `"hang"`: no answer until the client aborts (`499 CANCELLED`) or the
 *   simulator stops (`503 UNAVAILABLE`).
 * - `"drop"`: the connection closes without a complete answer; the client's
 *   fetch rejects with a `TypeError`.
 * - `"wrongCount"`: `200 OK` with the last embedding missing.
 */
export type SimulatedFaultKind =
  | "error500"
  | "error503"
  | "latencySpike"
  | "hang"
  | "drop"
  | "wrongCount";

/**
 * A fault returned by {@linkcode SimulatorFaults.script}: a kind, or a latency
 * spike of a given length.
 */
export type SimulatedFault = SimulatedFaultKind | { kind: "latencySpike"; ms: number };

/** A latency spike's probability and length. */
export interface LatencySpike {
  /** The probability, from 0 to 1, that an admitted call is delayed. */
  probability: number;
  /** How many milliseconds the spike adds to the call's latency. */
  ms: number;
}

/**
 * Faults to inject into calls that passed validation and quota. Each admitted
 * call draws one number from a generator seeded by the handler's `seed`;
 * the probabilities are stacked in the order error500, error503, hang, drop,
 * wrongCount, latencySpike, so a call gets at most one fault and their sum
 * must not exceed 1.
 */
export interface SimulatorFaults {
  /**
   * The probability of `500 INTERNAL`.
   *
   * @default {0}
   */
  error500?: number;
  /**
   * The probability of `503 UNAVAILABLE` (model overloaded).
   *
   * @default {0}
   */
  error503?: number;
  /**
   * The probability and length of a latency spike.
   *
   * @default {undefined}
   */
  latencySpike?: LatencySpike;
  /**
   * The probability that the call hangs until the client aborts or the
   * simulator stops.
   *
   * @default {0}
   */
  hang?: number;
  /**
   * The probability that the connection is dropped without an answer.
   *
   * @default {0}
   */
  drop?: number;
  /**
   * The probability of a `200 OK` answer with one embedding missing.
   *
   * @default {0}
   */
  wrongCount?: number;
  /**
   * Chooses the fault of a call deterministically: called with the 0-based
   * index of the call among admitted calls (those that passed validation and
   * quota) and its texts. A fault it returns replaces the drawn one; when it
   * returns `undefined` the drawn fault (if any) applies. A `"latencySpike"`
   * kind uses `latencySpike.ms`, or 10,000 ms when that is unset.
   *
   * @default {undefined}
   */
  script?: (index: number, texts: readonly string[]) => SimulatedFault | undefined;
}

/** The latency model: how long the simulator takes to answer a valid call. */
export interface SimulatorLatency {
  /**
   * Milliseconds every call takes.
   *
   * @default {0}
   */
  baseMs?: number;
  /**
   * Milliseconds added per text in the call.
   *
   * @default {0}
   */
  perTextMs?: number;
  /**
   * The most milliseconds of seeded random jitter added to each call (drawn
   * uniformly from 0 to `jitterMs`).
   *
   * @default {0}
   */
  jitterMs?: number;
}

/**
 * A latency model close to what `gemini-embedding-001` shows from a nearby
 * region: about 150 ms for a call, plus 2 ms per text, plus up to 100 ms of
 * jitter, so a 100-text batch takes 350 to 450 ms.
 *
 * @example Usage
 * ```ts
 * import { GEMINI_LATENCY } from "./faults.ts";
 * import { createSimulatorHandler } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const handler = createSimulatorHandler({ latency: GEMINI_LATENCY, seed: 1 });
 * assert.equal(handler.stats.requests, 0);
 * assert.equal(GEMINI_LATENCY.baseMs, 150);
 * ```
 */
export const GEMINI_LATENCY: Readonly<Required<SimulatorLatency>> = Object.freeze({
  baseMs: 150,
  perTextMs: 2,
  jitterMs: 100,
});

/** A fault decided for one call, with the spike length resolved. */
export type ChosenFault =
  | Exclude<SimulatedFaultKind, "latencySpike">
  | { kind: "latencySpike"; ms: number };

const DEFAULT_SPIKE_MS = 10_000;
const STACKED = ["error500", "error503", "hang", "drop", "wrongCount"] as const;

/**
 * Thrown by the simulator's handler when a call's connection is to be dropped
 * without an answer. `startSimulator` turns it into a closed connection, and
 * `simulatorClient` into the `TypeError` that fetch rejects with; a test that
 * calls the handler directly sees it as the handler's rejection.
 *
 * @example Usage
 * ```ts
 * import { SimulatedConnectionDrop } from "./faults.ts";
 * import assert from "node:assert/strict";
 *
 * const drop = new SimulatedConnectionDrop();
 * assert.equal(drop.name, "SimulatedConnectionDrop");
 * assert.match(drop.message, /connection closed/);
 * ```
 */
export class SimulatedConnectionDrop extends Error {
  /**
   * Creates the error.
   *
   * @param message What happened.
   */
  constructor(message = "Simulated fault: connection closed without an answer") {
    super(message);
    this.name = "SimulatedConnectionDrop";
  }
}

/** Internal: validates fault and latency options, naming the bad field. */
export function checkFaults(faults: SimulatorFaults): void {
  let sum = 0;
  for (const name of STACKED) {
    const p = faults[name];
    if (p !== undefined) sum += checkProbability(`faults.${name}`, p);
  }
  if (faults.latencySpike !== undefined) {
    sum += checkProbability("faults.latencySpike.probability", faults.latencySpike.probability);
    checkMs("faults.latencySpike.ms", faults.latencySpike.ms);
  }
  if (sum > 1 + 1e-9) {
    throw new RangeError(
      `Cannot create simulator: fault probabilities must add up to at most 1, received ${sum}`,
    );
  }
}

/** Internal: checks a non-negative, finite number of milliseconds. */
export function checkMs(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot create simulator: ${name} must be a non-negative finite number, received ${value}`,
    );
  }
  return value;
}

function checkProbability(name: string, value: number): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new RangeError(
      `Cannot create simulator: ${name} must be a probability from 0 to 1, received ${value}`,
    );
  }
  return value;
}

/**
 * Internal: the seeded draws of one handler. Faults and jitter use separate
 * generators, so turning jitter on does not change which calls fault.
 */
export class FaultDice {
  #faults: SimulatorFaults;
  #latency: Required<SimulatorLatency>;
  #faultRandom: () => number;
  #jitterRandom: () => number;
  #index = 0;

  constructor(faults: SimulatorFaults, latency: Required<SimulatorLatency>, seed: number) {
    this.#faults = faults;
    this.#latency = latency;
    this.#faultRandom = seededRandom(seed);
    this.#jitterRandom = seededRandom(seed ^ 0x5bd1e995);
  }

  /** Chooses the fault of the next admitted call, if any. */
  next(texts: readonly string[]): ChosenFault | undefined {
    const index = this.#index++;
    const draw = this.#faultRandom();
    const scripted = this.#faults.script?.(index, texts);
    if (scripted !== undefined) return this.#resolve(scripted);
    let threshold = 0;
    for (const name of STACKED) {
      threshold += this.#faults[name] ?? 0;
      if (draw < threshold) return name;
    }
    const spike = this.#faults.latencySpike;
    if (spike !== undefined && draw < threshold + spike.probability) {
      return { kind: "latencySpike", ms: spike.ms };
    }
    return undefined;
  }

  /** The latency of a call of `count` texts, in whole milliseconds. */
  latencyMs(count: number): number {
    const { baseMs, perTextMs, jitterMs } = this.#latency;
    const jitter = jitterMs === 0 ? 0 : this.#jitterRandom() * jitterMs;
    return Math.round(baseMs + perTextMs * count + jitter);
  }

  #resolve(fault: SimulatedFault): ChosenFault {
    if (fault === "latencySpike") {
      return { kind: "latencySpike", ms: this.#faults.latencySpike?.ms ?? DEFAULT_SPIKE_MS };
    }
    if (typeof fault === "object") return { kind: "latencySpike", ms: checkMs("spike", fault.ms) };
    return fault;
  }
}
