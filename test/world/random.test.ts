import { describe, expect, it } from "vitest";
import { mixSeed, WorldRng } from "../../src/world/random.ts";

describe("WorldRng", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = new WorldRng(7);
    const b = new WorldRng(7);
    const c = new WorldRng(8);
    const xa = Array.from({ length: 8 }, () => a.u32());
    expect(Array.from({ length: 8 }, () => b.u32())).toEqual(xa);
    expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(xa);
  });

  it("resumes bit-identically from its state", () => {
    const a = new WorldRng("label");
    a.float();
    const b = new WorldRng(a.state());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(
      Array.from({ length: 5 }, () => a.u32()),
    );
  });

  it("keys streams by all parts", () => {
    const x = WorldRng.fromParts("corpus/a", 1, 2).u32();
    expect(WorldRng.fromParts("corpus/a", 1, 2).u32()).toBe(x);
    expect(WorldRng.fromParts("corpus/b", 1, 2).u32()).not.toBe(x);
    expect(WorldRng.fromParts("corpus/a", 2, 1).u32()).not.toBe(x);
    expect(mixSeed(1, "a")).not.toBe(mixSeed("a", 1));
  });

  it("draws in range with the right mean", () => {
    const r = new WorldRng(3);
    let s = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const k = r.int(10);
      expect(k >= 0 && k < 10).toBe(true);
      s += r.float();
    }
    expect(s / n).toBeCloseTo(0.5, 1);
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i++) counts[r.weighted([1, 2, 1])]++;
    expect(counts[1] / n).toBeCloseTo(0.5, 1);
  });
});
