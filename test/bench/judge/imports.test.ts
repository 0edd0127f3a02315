import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");
const JUDGE = join(ROOT, "src/bench/judge");

/** Every file reachable from `entries` through relative (static or dynamic) imports. */
function importGraph(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    // Comments may quote import lines; only code counts.
    const src = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["'](\.[^"']+)["']/g)) {
      todo.push(resolve(dirname(file), m[1]));
    }
  }
  return seen;
}

const judgeFiles = () =>
  readdirSync(JUDGE)
    .map((f) => join(JUDGE, f))
    .filter((f) => statSync(f).isFile() && f.endsWith(".ts"));

describe("the judge is an independent referee", () => {
  it("never imports model code (src/umm, src/encoders), directly or transitively", () => {
    const graph = [...importGraph([...judgeFiles(), join(ROOT, "src/cli/judge.ts")])].map((f) =>
      relative(ROOT, f),
    );
    expect(graph).toContain("src/bench/judge/segment.ts");
    expect(graph).toContain("src/engine/jax.ts");
    const model = graph.filter((f) => /^src\/(umm|encoders)\//.test(f));
    expect(model).toEqual([]);
    // Nor any other benchmark or training recipe that could pull them in later.
    expect(graph.filter((f) => /^src\/(sample|data\/(?!png))/.test(f))).toEqual([]);
  });
});
