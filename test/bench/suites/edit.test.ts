import { describe, expect, it } from "vitest";
import { noiseFor } from "../../../src/bench/controls.ts";
import {
  editItemSet,
  editResult,
  explainedFraction,
  imgEditScore,
  parseEditMetadata,
  scoreEditImage,
  summarizeEdit,
} from "../../../src/bench/edit/index.ts";
import type { Detection } from "../../../src/bench/judge/types.ts";
import { oracleDetections } from "../../../src/bench/oracle.ts";
import { renderScene } from "../../../src/world/render.ts";

const items = editItemSet({ perKind: 6 });
const of = (kind: string) => items.filter((i) => i.kind === kind);
const truth = (scene: (typeof items)[number]["target"]) => {
  const r = renderScene(scene, { size: 32 });
  return { image: r.image, dets: oracleDetections(scene, r) };
};
const shift = (d: Detection, dx: number): Detection => ({
  ...d,
  box: [d.box[0] + dx, d.box[1], d.box[2] + dx, d.box[3]],
});

describe("edit aggregation", () => {
  it("SC = min(success, preservation), PQ = min(naturalness, artifacts), O = √(SC·PQ)", () => {
    const r = editResult(10, 6, 9, 4);
    expect(r.sc).toBe(6);
    expect(r.pq).toBe(4);
    expect(r.o).toBeCloseTo(Math.sqrt(24));
  });

  it("maps to ImgEdit's 1–5 scale with integer dimensions capped by compliance", () => {
    expect(imgEditScore(10, 10, 10)).toBe(5);
    expect(imgEditScore(0, 10, 10)).toBe(1);
    expect(imgEditScore(5, 10, 10)).toBe(3);
    expect(imgEditScore(10, 7.5, 10)).toBe(4.67);
    expect(imgEditScore(10, 0, 0)).toBe(2.33);
  });

  it("averages O per image within a type, then types without weights (GEdit)", () => {
    const add = of("add")[0];
    const rm = of("remove")[0];
    const rows = [
      { item: 0, meta: add, result: editResult(10, 10, 0, 0) },
      { item: 1, meta: add, result: editResult(0, 0, 10, 10) },
      { item: 2, meta: rm, result: editResult(10, 10, 10, 10) },
      { item: 3, meta: rm, result: editResult(10, 10, 10, 10) },
      { item: 4, meta: rm, result: editResult(10, 10, 10, 10) },
    ];
    const s = summarizeEdit(rows);
    expect(s.types.add).toBe(0); // not √(mean SC · mean PQ) = 5
    expect(s.typeDetails.add!.sc).toBe(5);
    expect(s.overall).toBe(5); // (0 + 10) / 2, not the image-weighted 6
    // ImgEdit: add items 2.33 (compliance 5, others 1) and 1; remove items 5.
    expect(s.imgedit.overall).toBeCloseTo((1.665 + 5) / 2);
    expect(s.imgedit.itemWeighted).toBeCloseTo((2.33 + 1 + 15) / 5);
  });
});

describe("edit scoring", () => {
  it("gives the target 10 and leaving the source unchanged 0, for every kind", () => {
    for (const it of items) {
      const t = truth(it.target);
      expect(scoreEditImage(it, t.dets, t.image)).toMatchObject({
        sc: 10,
        pq: 10,
        o: 10,
        imgedit: 5,
      });
      const s = truth(it.source);
      expect(scoreEditImage(it, s.dets, s.image).success).toBe(0);
    }
  });

  it("penalises over-editing: a moved or recoloured bystander, or an extra object", () => {
    const it = items.find((i) => i.kind === "recolor" && i.source.objects.length >= 3)!;
    const t = truth(it.target);
    const other = it.object === 0 ? 1 : 0;
    const moved = t.dets.map((d, k) => (k === other ? shift(d, 8) : d));
    const r = scoreEditImage(it, moved, t.image);
    expect(r.success).toBe(10);
    expect(r.preservation).toBeCloseTo(
      (10 * (it.source.objects.length - 2)) / it.source.objects.length,
    );
    const recol = t.dets.map((d, k) =>
      k === other ? ({ ...d, color: d.color === "red" ? "blue" : "red" } as Detection) : d,
    );
    expect(scoreEditImage(it, recol, t.image).sc).toBeLessThan(10);
    const extra = [...t.dets, { ...t.dets[other], box: [0, 0, 3, 3] } as Detection];
    expect(scoreEditImage(it, extra, t.image).preservation).toBeCloseTo(
      (10 * (it.source.objects.length - 1)) / it.source.objects.length,
    );
  });

  it("checks where an add or move put the object", () => {
    const centre = (d: Detection) => [(d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2];
    const moveTo = (d: Detection, x: number, y: number): Detection => {
      const [cx, cy] = centre(d);
      return {
        ...d,
        box: [d.box[0] + x - cx, d.box[1] + y - cy, d.box[2] + x - cx, d.box[3] + y - cy],
      };
    };
    const more = editItemSet({ perKind: 20, kinds: ["add", "move"] });
    const directed = more.find((i) => i.where && "direction" in i.where)!;
    const related = more.find((i) => i.kind === "add" && i.where && "relation" in i.where)!;
    expect(directed && related).toBeTruthy();

    // Move "to the left/right/up/down": back at its source place = not moved; the other way = 5.
    const t = truth(directed.target);
    const s = truth(directed.source);
    const k = directed.object;
    const stayed = t.dets.map((d, j) => (j === k ? s.dets[k] : d));
    expect(scoreEditImage(directed, stayed, t.image).success).toBe(0);
    const [sx, sy] = centre(s.dets[k]);
    const [tx, ty] = centre(t.dets[k]);
    const back = t.dets.map((d, j) => (j === k ? moveTo(d, 2 * sx - tx, 2 * sy - ty) : d));
    expect(scoreEditImage(directed, back, t.image).success).toBe(5);

    // Add "… left of the X": mirrored through the anchor it is new but misplaced = 5.
    const u = truth(related.target);
    const w = related.where as { anchor: number };
    const [ax, ay] = centre(u.dets[w.anchor]);
    const [nx, ny] = centre(u.dets[related.object]);
    const mirrored = u.dets.map((d, j) =>
      j === related.object ? moveTo(d, 2 * ax - nx, 2 * ay - ny) : d,
    );
    expect(scoreEditImage(related, mirrored, u.image).success).toBe(5);
    expect(scoreEditImage(related, u.dets, u.image).success).toBe(10);
  });

  it("reads perceptual quality from confidence and explained pixels", () => {
    const it = items[0];
    const t = truth(it.target);
    expect(explainedFraction(t.image, t.dets)).toBe(1);
    const noise = noiseFor(0, 0, 32);
    expect(explainedFraction(noise, t.dets)).toBeLessThan(0.2);
    const half = t.dets.map((d) => ({ ...d, score: 0.5 }));
    expect(scoreEditImage(it, half, t.image).naturalness).toBeCloseTo(5);
    expect(scoreEditImage(it, t.dets, noise).pq).toBeLessThan(2);
  });

  it("validates metadata read back from a folder", () => {
    const it = JSON.parse(JSON.stringify(items[0]));
    expect(parseEditMetadata(it, "m")).toEqual(items[0]);
    expect(() => parseEditMetadata({ ...it, kind: "style" }, "m.jsonl")).toThrow(/m\.jsonl: kind/);
    expect(() => parseEditMetadata({ ...it, object: 9 }, "m.jsonl")).toThrow(/m\.jsonl: object/);
  });
});
