/**
 * The command line's parts, behind `main.ts`: flags ({@linkcode parseCliArgs}),
 * the demo ({@linkcode runDemo}), corpus runs ({@linkcode runCorpus}), and
 * what they read and write ({@linkcode MainIO}, {@linkcode EXIT}).
 *
 * @example Parsing flags
 * ```ts
 * import { parseCliArgs } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const options = parseCliArgs(["--batch-size", "16", "--timeout", "250ms"]);
 * assert.equal(options.batchSize, 16);
 * assert.equal(options.timeoutMs, 250);
 * ```
 *
 * @module
 */

export * from "./args.ts";
export * from "./corpus.ts";
export * from "./batch_corpus.ts";
export * from "./demo.ts";
export * from "./io.ts";
export type { WritableSink } from "./output.ts";
export * from "./serve.ts";
export * from "./serve_args.ts";
