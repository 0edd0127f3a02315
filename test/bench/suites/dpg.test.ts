import { describe, expect, it } from "vitest";
import {
  answerQuestion,
  applyDependencies,
  type DpgItem,
  type DpgQuestion,
  decompose,
  dpgGroundTruth,
  dpgImageResult,
  dpgPromptSet,
  parseDpgMetadata,
  summarizeDpg,
  tupleCategories,
} from "../../../src/bench/dpg/index.ts";
import { oracleDetections } from "../../../src/bench/oracle.ts";
import { renderScene } from "../../../src/world/render.ts";
import type { Scene } from "../../../src/world/scene.ts";
import { boxAt, det } from "./helpers.ts";

const q = (id: number, tuple: string, parents: number[]): DpgQuestion => ({
  id,
  tuple,
  question: "?",
  parents,
  check: { kind: "background" },
});

describe("DPG dependency zeroing", () => {
  const qs = [
    q(1, "entity - whole (circle)", []),
    q(2, "attribute - color (circle, red)", [1]),
    q(3, "count - exact (red circle, 2)", [2]),
    q(4, "global - background (gray)", []),
  ];

  it("zeroes children of failed parents, down chains, in question order", () => {
    expect(applyDependencies(qs, [0, 1, 1, 1])).toEqual([0, 0, 0, 1]);
    expect(applyDependencies(qs, [1, 0, 1, 1])).toEqual([1, 0, 0, 1]);
    expect(applyDependencies(qs, [1, 1, 1, 0])).toEqual([1, 1, 1, 0]);
    expect(dpgImageResult(qs, [0, 1, 1, 1]).score).toBe(0.25);
  });

  it("reads a later parent's current (raw) value, and ignores parent id 0", () => {
    const later = [
      q(1, "relation - spatial (a, left of, b)", [2]),
      q(2, "entity - whole (b)", [0]),
    ];
    expect(applyDependencies(later, [1, 0])).toEqual([0, 0]);
    expect(applyDependencies(later, [1, 1])).toEqual([1, 1]);
  });

  it("scores images after zeroing, categories on raw answers", () => {
    const item = { questions: qs } as DpgItem;
    const rows = [
      { item: 0, meta: item, result: dpgImageResult(qs, [0, 1, 1, 1]) },
      { item: 0, meta: item, result: dpgImageResult(qs, [1, 1, 1, 1]) },
    ];
    const s = summarizeDpg(rows);
    expect(s.overall).toBeCloseTo((100 * (0.25 + 1)) / 2);
    expect(s.categories.entity).toBe(50);
    expect(s.categories.attribute).toBe(100); // raw, though zeroed in image 0
    expect(s.detailed["count - exact"]).toBe(100);
    expect(tupleCategories("relation - spatial (red circle, left of, blue square)")).toEqual({
      l1: "relation",
      l2: "relation - spatial",
    });
  });
});

describe("DPG questions", () => {
  const scene: Scene = {
    objects: [
      { category: "circle", color: "red", size: "small", x: 0.2, y: 0.3, radius: 0.15 },
      { category: "circle", color: "red", size: "small", x: 0.2, y: 0.75, radius: 0.15 },
      { category: "square", color: "blue", size: "small", x: 0.75, y: 0.5, radius: 0.15 },
    ],
  };
  const groups = [
    { category: "circle", color: "red", count: 2 },
    { category: "square", color: "blue", count: 1 },
  ] as const;
  const qs = decompose(scene, [...groups], [[0, "left of", 1]]);

  it("decompose into entity, attribute, count, relation and global questions with parents", () => {
    expect(qs.map((x) => `${x.id} ${x.tuple} [${x.parents}]`)).toEqual([
      "1 entity - whole (circle) []",
      "2 entity - whole (square) []",
      "3 attribute - color (circle, red) [1]",
      "4 attribute - color (square, blue) [2]",
      "5 count - exact (red circle, 2) [3]",
      "6 count - total (objects, 3) []",
      "7 relation - spatial (red circle, left of, blue square) [3,4]",
      "8 global - background (gray) []",
    ]);
    expect(qs[6].question).toBe("Are the red circles left of the blue square?");
    const r = renderScene(scene, { size: 32 });
    const dets = oracleDetections(scene, r);
    expect(qs.every((x) => answerQuestion(x.check, dets, r.image))).toBe(true);
  });

  it("answer from detections: exact counts, relations on the top-count detections, threshold 0.3", () => {
    const r = renderScene(scene, { size: 32 });
    const dets = oracleDetections(scene, r);
    const extra = det("circle", boxAt(28, 4), 0.5, "red");
    expect(answerQuestion(qs[4].check, [...dets, extra], r.image)).toBe(false);
    expect(answerQuestion(qs[4].check, [...dets, { ...extra, score: 0.3 }], r.image)).toBe(true);
    expect(answerQuestion(qs[4].check, [...dets, { ...extra, score: 0.25 }], r.image)).toBe(true);
    // A third, more confident red circle right of the square breaks the relation.
    const right = det("circle", boxAt(30, 16), 1, "red");
    expect(answerQuestion(qs[6].check, [right, ...dets], r.image)).toBe(false);
    expect(answerQuestion(qs[7].check, [], { ...r.image, data: r.image.data.map(() => 0.9) })).toBe(
      false,
    );
  });
});

describe("DPG items", () => {
  const items = dpgPromptSet({ size: 12 });

  it("are dense 3–4 object prompts whose every question holds on the ground truth", () => {
    for (const it of items) {
      expect(it.scene.objects.length).toBeGreaterThanOrEqual(3);
      expect(it.questions.some((x) => x.tuple.startsWith("relation"))).toBe(true);
      for (const x of it.questions) expect(x.parents.every((p) => p < x.id)).toBe(true);
      for (const sample of [0, 1]) {
        const s = dpgGroundTruth(it, sample, 32);
        const r = renderScene(s, { size: 32 });
        const dets = oracleDetections(s, r);
        expect(it.questions.every((x) => answerQuestion(x.check, dets, r.image))).toBe(true);
      }
    }
    expect(dpgPromptSet({ size: 12 })).toEqual(items);
  });

  it("validate metadata read back from a folder", () => {
    const it0 = JSON.parse(JSON.stringify(items[0]));
    expect(parseDpgMetadata(it0, "m")).toEqual(items[0]);
    expect(() =>
      parseDpgMetadata({ ...it0, questions: it0.questions.slice(1) }, "m.jsonl"),
    ).toThrow(/m\.jsonl: questions\.0\.id: expected 1/);
    const bad = JSON.parse(JSON.stringify(items[0]));
    bad.scene.objects[0].color = "teal";
    expect(() => parseDpgMetadata(bad, "m.jsonl")).toThrow(/scene\.objects\.0\.color/);
  });
});
