// Internal: where a corpus run's calls actually go, for the start-up line and
// for naming the host when the API cannot be reached.

import type { CliOptions } from "./args.ts";
import type { MainIO } from "./io.ts";

/** Google's Gemini API, where the SDK sends calls unless told otherwise. */
const GEMINI_API_URL = "https://generativelanguage.googleapis.com";

/**
 * Where calls actually go, and which setting said so: the simulator,
 * `--base-url`, the SDK's `GOOGLE_GEMINI_BASE_URL`, or Google's API.
 */
export function apiEndpoint(
  options: CliOptions,
  io: MainIO,
  simulatorUrl: string | undefined,
): { url: string; host: string; from: string | undefined } {
  const fromEnv = io.env("GOOGLE_GEMINI_BASE_URL");
  const [url, from] = simulatorUrl !== undefined
    ? [simulatorUrl, undefined]
    : options.baseUrl !== undefined
    ? [options.baseUrl, "--base-url"]
    : fromEnv !== undefined
    ? [fromEnv, "GOOGLE_GEMINI_BASE_URL"]
    : [GEMINI_API_URL, undefined];
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    // not a URL: the SDK will fail on it, and the message names it as given
  }
  return { url, host, from };
}
