// Internal, for tests only: run main.ts as a subprocess the way a user does,
// with a clean environment, and read what it wrote.

/** The path of main.ts. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The narrow permissions a corpus run needs. */
export const CORPUS_PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-read",
  "--allow-write",
];

/** How a finished run ended and what it printed. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli} and {@linkcode startCli}. */
export interface CliRunOptions {
  /** The whole environment, besides `NO_COLOR=1`. */
  env?: Record<string, string>;
  /** Text written to stdin, then closed; no stdin when unset. */
  stdin?: string;
  cwd?: string;
  /** Deno's permission flags; {@linkcode CORPUS_PERMISSIONS} when unset. */
  permissions?: readonly string[];
}

function command(args: string[], options: CliRunOptions, stdout: "piped" | "null") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? CORPUS_PERMISSIONS), MAIN, ...args],
    env: { NO_COLOR: "1", ...options.env },
    clearEnv: true,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout,
    stderr: "piped",
    ...(options.cwd !== undefined && { cwd: options.cwd }),
  });
}

/** Runs main.ts to its end. */
export async function runCli(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const child = command(args, options, "piped").spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/**
 * Starts main.ts and resolves once its stderr matches `pattern` (or it ends),
 * with the child, whether it matched, and a promise of its whole run.
 */
export async function startCli(args: string[], pattern: RegExp, options: CliRunOptions = {}) {
  const child = command(args, options, "null").spawn();
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (!pattern.test(stderr)) {
    const { done, value } = await reader.read();
    if (done) break;
    stderr += value;
  }
  const matched = pattern.test(stderr);
  const finished = (async () => {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      stderr += value;
    }
    const { code, signal } = await child.status;
    return { code, signal, stderr };
  })();
  return { child, matched, finished };
}

/** Runs `fn` with a new temporary directory, removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "embatch-cli-test-",
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The non-empty lines of a text. */
export function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}
