import assert from "node:assert/strict";
import { cachePath } from "./_cache.ts";

Deno.test("cachePath resolves default to the user's cache directory and keeps other paths", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(cachePath("my.sqlite", env({})), "my.sqlite");
  if (Deno.build.os === "windows") return;
  assert.equal(
    cachePath("default", env({ XDG_CACHE_HOME: "/xdg", HOME: "/home/u" })),
    "/xdg/embatch/cache.sqlite",
  );
  assert.equal(
    cachePath("default", env({ HOME: "/home/u" })),
    "/home/u/.cache/embatch/cache.sqlite",
  );
  // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
  assert.equal(
    cachePath("default", env({ XDG_CACHE_HOME: "rel", HOME: "/home/u" })),
    "/home/u/.cache/embatch/cache.sqlite",
  );
  assert.equal(cachePath("default", env({})), undefined);
});
