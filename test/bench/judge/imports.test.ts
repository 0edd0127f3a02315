import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importGraph, ROOT, rel, tsFiles } from "../../helpers/imports.ts";

describe("the judge is an independent referee", () => {
  it("never imports model code (src/umm, src/encoders), directly or transitively", () => {
    const judge = tsFiles("src/bench/judge");
    const graph = [...importGraph([...judge, join(ROOT, "src/cli/judge.ts")])].map(rel);
    expect(graph).toContain("src/bench/judge/segment.ts");
    expect(graph).toContain("src/engine/jax.ts");
    const model = graph.filter((f) => /^src\/(umm|encoders)\//.test(f));
    expect(model).toEqual([]);
    // Nor any other benchmark or training recipe that could pull them in later.
    expect(graph.filter((f) => /^src\/(sample|data\/(?!png))/.test(f))).toEqual([]);
  });
});
