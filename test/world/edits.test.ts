import { describe, expect, it } from "vitest";
import { EDIT_KINDS, type Edit, makeEdit, sampleEdit } from "../../src/world/edits.ts";
import { WorldRng } from "../../src/world/random.ts";
import {
  isValidLayout,
  relationsBetween,
  type SceneObject,
  sampleScene,
} from "../../src/world/scene.ts";
import { COLORS, RELATIONS } from "../../src/world/vocab.ts";

const fields = ["category", "color", "size", "x", "y", "radius"] as const;
const changed = (a: SceneObject, b: SceneObject) => fields.filter((f) => a[f] !== b[f]);

function edits(kind: (typeof EDIT_KINDS)[number], n: number, seed: number): Edit[] {
  const rng = new WorldRng(seed);
  const out: Edit[] = [];
  while (out.length < n) {
    const e = makeEdit(rng, kind, sampleScene(rng));
    if (e) out.push(e);
  }
  return out;
}

describe("edits", () => {
  it("recolor changes exactly one object's colour to the named one", () => {
    for (const e of edits("recolor", 150, 1)) {
      const { source, target, object } = e;
      expect(target.objects).toHaveLength(source.objects.length);
      source.objects.forEach((o, i) => {
        expect(changed(o, target.objects[i])).toEqual(i === object ? ["color"] : []);
      });
      const newColor = target.objects[object].color;
      expect(e.instruction.endsWith(newColor)).toBe(true);
      expect(e.instruction).toMatch(/\b(make|change|paint|recolor|turn)\b/);
      expect(COLORS).toContain(newColor);
    }
  });

  it("remove deletes exactly the named object", () => {
    for (const e of edits("remove", 150, 2)) {
      const { source, target, object } = e;
      expect(target.objects).toEqual(source.objects.filter((_, i) => i !== object));
      expect(e.instruction).toContain(source.objects[object].category);
    }
  });

  it("add appends one object, leaves the rest, and keeps the layout valid", () => {
    for (const e of edits("add", 150, 3)) {
      const { source, target, object } = e;
      expect(object).toBe(source.objects.length);
      expect(target.objects.slice(0, -1)).toEqual(source.objects);
      const o = target.objects[object];
      expect(e.instruction).toContain(`${o.color} ${o.category}`);
      expect(isValidLayout(target.objects)).toBe(true);
      const rel = RELATIONS.find((r) => e.instruction.includes(` ${r} `));
      if (rel) {
        const anchors = source.objects
          .map((_, j) => j)
          .filter((j) => relationsBetween(target, object, j).includes(rel));
        expect(anchors.length).toBeGreaterThan(0);
      }
    }
  });

  it("replace changes exactly one object's category, keeping colour and place", () => {
    for (const e of edits("replace", 150, 4)) {
      const { source, target, object } = e;
      source.objects.forEach((o, i) => {
        expect(changed(o, target.objects[i])).toEqual(i === object ? ["category"] : []);
      });
      expect(e.instruction).toContain(target.objects[object].category);
      expect(isValidLayout(target.objects)).toBe(true);
    }
  });

  it("move changes only one object's position, validly and as instructed", () => {
    let relative = 0;
    for (const e of edits("move", 200, 5)) {
      const { source, target, object } = e;
      source.objects.forEach((o, i) => {
        const c = changed(o, target.objects[i]);
        if (i === object) expect(c.filter((f) => f !== "x" && f !== "y")).toEqual([]);
        else expect(c).toEqual([]);
      });
      expect(isValidLayout(target.objects)).toBe(true);
      const rel = RELATIONS.find((r) => e.instruction.includes(` ${r} `));
      const s = source.objects[object];
      const t = target.objects[object];
      if (rel) {
        relative++;
        const ok = source.objects.some(
          (_, j) =>
            j !== object &&
            relationsBetween(target, object, j).includes(rel) &&
            !relationsBetween(source, object, j).includes(rel),
        );
        expect(ok, e.instruction).toBe(true);
      } else if (e.instruction.endsWith("left")) expect(t.x).toBeLessThan(s.x - 0.19);
      else if (e.instruction.endsWith("right")) expect(t.x).toBeGreaterThan(s.x + 0.19);
      else if (e.instruction.endsWith("up")) expect(t.y).toBeLessThan(s.y - 0.19);
      else if (e.instruction.endsWith("down")) expect(t.y).toBeGreaterThan(s.y + 0.19);
      else throw new Error(`unparsed move: ${e.instruction}`);
    }
    expect(relative).toBeGreaterThan(50);
  });

  it("sampleEdit covers every kind, and is deterministic", () => {
    const rng = new WorldRng(6);
    const kinds = new Set<string>();
    const instr = new Set<string>();
    for (let k = 0; k < 200; k++) {
      const e = sampleEdit(rng, sampleScene(rng));
      if (!e) continue;
      kinds.add(e.kind);
      instr.add(e.instruction.split(" ")[0]);
    }
    expect([...kinds].sort()).toEqual([...EDIT_KINDS].sort());
    expect(instr.size).toBeGreaterThanOrEqual(12);
    const scene = sampleScene(new WorldRng(1));
    expect(sampleEdit(new WorldRng(2), scene)).toEqual(sampleEdit(new WorldRng(2), scene));
  });
});
