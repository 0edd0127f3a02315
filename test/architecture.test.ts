/**
 * The dependency rules of docs/DESIGN.md ("Rules"), checked on the import graph (comments do not
 * count; the judge's own rule is test/bench/judge/imports.test.ts).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { importGraph, importsOf, rel, tsFiles } from "./helpers/imports.ts";

/** Direct imports of the files under `dir` that leave the allowed folders, as "file → target". */
function outside(dir: string, allowed: RegExp): string[] {
  return tsFiles(dir).flatMap((f) =>
    importsOf(f)
      .map(rel)
      .filter((t) => !allowed.test(t))
      .map((t) => `${rel(f)} → ${t}`),
  );
}

describe("dependency rules", () => {
  it("engine, world and util import nothing of ours but util (and themselves)", () => {
    expect(outside("src/engine", /^src\/(engine|util)\//)).toEqual([]);
    expect(outside("src/world", /^src\/(world|util)\//)).toEqual([]);
    expect(outside("src/util", /^src\/util\//)).toEqual([]);
  });

  it("encoders never reach bench, and experiment never reaches cli, even transitively", () => {
    const enc = [...importGraph(tsFiles("src/encoders"))].map(rel);
    expect(enc.filter((f) => f.startsWith("src/bench/"))).toEqual([]);
    const exp = [...importGraph(tsFiles("src/experiment"))].map(rel);
    expect(exp.filter((f) => f.startsWith("src/cli/"))).toEqual([]);
  });

  it("outside src/umm/families, no code reads a family's own config block", () => {
    const reads = [...tsFiles("src"), ...tsFiles("bench")].filter(
      (f) =>
        !rel(f).startsWith("src/umm/families/") &&
        /\.(flow|generator)\.(imageSize|sampleSteps|guidance|cfg|channels|stem)\b/.test(
          readFileSync(f, "utf8"),
        ),
    );
    expect(reads.map(rel)).toEqual([]);
  });

  it("code comments cite the repository's docs, never files outside it", () => {
    const outsiders = [...tsFiles("src"), ...tsFiles("bench"), ...tsFiles("test")].filter((f) =>
      /shared\/(reference|ARCHITECTURE)|\/work\/shared/.test(readFileSync(f, "utf8")),
    );
    expect(outsiders.map(rel)).toEqual([]);
  });
});
