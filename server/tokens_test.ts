import assert from "node:assert/strict";
import { parseTokenList } from "./tokens.ts";

Deno.test("parseTokenList skips blank lines and comments, and splits on commas", () => {
  assert.deepEqual(parseTokenList("# clients\none\r\n\n  two  \n#three\n"), ["one", "two"]);
  assert.deepEqual(parseTokenList("a,b,,c\n"), ["a", "b", "c"]);
  assert.deepEqual(parseTokenList(""), []);
});
