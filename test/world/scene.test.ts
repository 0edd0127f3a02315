import { describe, expect, it } from "vitest";
import { WorldRng } from "../../src/world/random.ts";
import {
  buildScene,
  isValidLayout,
  objectBox,
  positionRelations,
  relationsBetween,
  sampleColor,
  sampleScene,
  sceneSignature,
} from "../../src/world/scene.ts";
import { shapeExtent } from "../../src/world/shapes.ts";
import {
  ALL_CATEGORIES,
  DOMINANT_COLOR,
  RELATIONS,
  worldCategories,
} from "../../src/world/vocab.ts";

const box = (cx: number, cy: number, w: number, h: number) => ({
  x1: cx - w / 2,
  y1: cy - h / 2,
  x2: cx + w / 2,
  y2: cy + h / 2,
});

describe("GenEval position rule", () => {
  it("gives the four relations on clear axis offsets", () => {
    const b = box(50, 50, 10, 10);
    expect(positionRelations(box(20, 50, 10, 10), b)).toEqual(["left of"]);
    expect(positionRelations(box(80, 50, 10, 10), b)).toEqual(["right of"]);
    expect(positionRelations(box(50, 20, 10, 10), b)).toEqual(["above"]);
    expect(positionRelations(box(50, 80, 10, 10), b)).toEqual(["below"]);
  });

  it("gives two relations on a clean diagonal and none when the margin eats the offset", () => {
    // 45°: |d| = (30 − 2)/42.4 = 0.66 on both axes.
    expect(positionRelations(box(20, 20, 10, 10), box(50, 50, 10, 10)).sort()).toEqual(
      ["above", "left of"].sort(),
    );
    // Offset 3 px with boxes 20 wide: margin 4 > 3 on x, so nothing holds.
    expect(positionRelations(box(53, 50, 20, 20), box(50, 50, 20, 20))).toEqual([]);
    expect(positionRelations(box(50, 50, 10, 10), box(50, 50, 10, 10))).toEqual([]);
  });

  it("uses box dimensions for the margin (wide boxes need a larger offset)", () => {
    // Offset (10, 8): narrow boxes give left of; 60-wide boxes shrink x to 0 → above only.
    expect(positionRelations(box(40, 42, 4, 4), box(50, 50, 4, 4))).toContain("left of");
    expect(positionRelations(box(40, 42, 60, 4), box(50, 50, 60, 4))).toEqual(["above"]);
  });
});

describe("scenes", () => {
  it("are deterministic for a seed", () => {
    const a = sampleScene(new WorldRng(5));
    const b = sampleScene(new WorldRng(5));
    expect(a).toEqual(b);
    expect(sceneSignature(a)).toBe(sceneSignature(b));
    expect(sampleScene(new WorldRng(6))).not.toEqual(a);
  });

  it("honour the overlap limit and canvas bounds, with 1–4 objects", () => {
    const rng = new WorldRng(11);
    const counts = [0, 0, 0, 0, 0];
    for (let k = 0; k < 400; k++) {
      const s = sampleScene(rng, { categories: worldCategories(10) });
      counts[s.objects.length]++;
      expect(isValidLayout(s.objects)).toBe(true);
      for (const o of s.objects) {
        const b = objectBox(o);
        expect(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= 1 && b.y2 <= 1).toBe(true);
      }
      for (let i = 0; i < s.objects.length; i++)
        for (let j = 0; j < i; j++) {
          const [p, q] = [s.objects[i], s.objects[j]];
          const discs =
            shapeExtent(p.category).bound * p.radius + shapeExtent(q.category).bound * q.radius;
          expect(Math.hypot(p.x - q.x, p.y - q.y)).toBeGreaterThanOrEqual(discs);
        }
    }
    expect(counts[0]).toBe(0);
    for (let n = 1; n <= 4; n++) expect(counts[n]).toBeGreaterThan(20);
  });

  it("allows partial overlap when minSeparation < 1", () => {
    const rng = new WorldRng(2);
    let closest = Infinity;
    for (let k = 0; k < 300; k++) {
      const s = sampleScene(rng, { countWeights: [0, 0, 0, 1], minSeparation: 0.6, minGap: 0 });
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < i; j++) {
          const [p, q] = [s.objects[i], s.objects[j]];
          const d = Math.hypot(p.x - q.x, p.y - q.y) / (p.radius + q.radius);
          closest = Math.min(closest, d);
        }
    }
    expect(closest).toBeLessThan(0.9);
    expect(closest).toBeGreaterThanOrEqual(0.6);
  });

  it("builds scenes with required attributes and relations", () => {
    const rng = new WorldRng(9);
    for (let k = 0; k < 100; k++) {
      const relation = RELATIONS[k % 4];
      const s = buildScene(rng, {
        objects: [
          { category: "circle", color: "red" },
          { category: "square", size: "large" },
        ],
        relations: [{ subject: 0, relation, reference: 1 }],
        exclusive: k % 2 === 0,
      });
      expect(s.objects[0]).toMatchObject({ category: "circle", color: "red" });
      expect(s.objects[1]).toMatchObject({ category: "square", size: "large" });
      const rels = relationsBetween(s, 0, 1);
      expect(rels).toContain(relation);
      if (k % 2 === 0) expect(rels).toEqual([relation]);
    }
  });

  it("biased prior gives each category its dominant colour ≈85% of the time", () => {
    const rng = new WorldRng(1);
    let hits = 0;
    let n = 0;
    for (let k = 0; k < 3000; k++) {
      const s = sampleScene(rng, { colorPrior: "biased" });
      for (const o of s.objects) {
        n++;
        if (o.color === DOMINANT_COLOR[o.category]) hits++;
      }
    }
    expect(hits / n).toBeGreaterThan(0.83);
    expect(hits / n).toBeLessThan(0.87);
    let uni = 0;
    for (let k = 0; k < 10000; k++) if (sampleColor(rng, "circle") === "red") uni++;
    expect(uni / 10000).toBeCloseTo(0.1, 1);
  });

  it("measures every shape inside its bounding disc", () => {
    for (const c of ALL_CATEGORIES) {
      const e = shapeExtent(c);
      expect(e.bound).toBeGreaterThan(0.9);
      expect(e.bound).toBeLessThan(1.5);
      expect(Math.max(-e.x1, e.x2, -e.y1, e.y2)).toBeLessThanOrEqual(e.bound + 1e-9);
    }
  });
});
