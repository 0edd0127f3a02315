import { describe, expect, it } from "vitest";
import {
  colors,
  counting,
  type GenevalMetadata,
  genevalRelations,
  keptDetections,
  position,
  scoreGenevalImage,
  singleObject,
  summarizeGeneval,
  twoObject,
} from "../../../src/bench/geneval/index.ts";
import { WorldRng } from "../../../src/world/random.ts";
import { positionRelations } from "../../../src/world/scene.ts";
import { boxAt, det } from "./helpers.ts";

describe("GenEval position rule", () => {
  it("subtracts 0.1 × summed dims per axis, then cuts the normalised offset at ±0.5", () => {
    // 10 px left, widths 10 + 10: margin 2, dx = -8/10.
    expect(genevalRelations(boxAt(10, 20, 10, 10), boxAt(20, 20, 10, 10))).toEqual(["left of"]);
    expect(genevalRelations(boxAt(30, 20, 10, 10), boxAt(20, 20, 10, 10))).toEqual(["right of"]);
    expect(genevalRelations(boxAt(20, 5, 10, 10), boxAt(20, 20, 10, 10))).toEqual(["above"]);
    expect(genevalRelations(boxAt(20, 35, 10, 10), boxAt(20, 20, 10, 10))).toEqual(["below"]);
    // Horizontal offset 10: the margin 0.1·(wA+wB) decides — sum 49 leaves dx 0.51, sum 51 leaves 0.49.
    expect(genevalRelations(boxAt(30, 20, 24.5, 4), boxAt(20, 20, 24.5, 4))).toEqual(["right of"]);
    expect(genevalRelations(boxAt(30, 20, 25.5, 4), boxAt(20, 20, 25.5, 4))).toEqual([]);
    // Offset no larger than the margin on both axes: the empty relation set.
    expect(genevalRelations(boxAt(22, 21, 10, 10), boxAt(20, 20, 10, 10))).toEqual([]);
  });

  it("keeps the ±0.5 band on the offset normalised by the ORIGINAL offset", () => {
    // Point boxes (no margin): dx = 1/√(1+1.7²) = 0.507 → right of; 1/√(1+1.75²) = 0.496 → not.
    expect(genevalRelations([1, 1.7, 1, 1.7], [0, 0, 0, 0])).toEqual(["right of", "below"]);
    expect(genevalRelations([1, 1.75, 1, 1.75], [0, 0, 0, 0])).toEqual(["below"]);
    // A clean diagonal holds both relations.
    expect(genevalRelations([10, 10, 10, 10], [0, 0, 0, 0])).toEqual(["right of", "below"]);
    // Offset (10, 10), widths summing to 40 (heights 0): revised x = 6. Divided by the original
    // length 14.14 it is 0.42 (no "right of"); by the revised length 11.7 it would be 0.51.
    expect(genevalRelations([0, 10, 20, 10], [-10, 0, 10, 0])).toEqual(["below"]);
  });

  it("agrees with the world's positionRelations on random pixel boxes", () => {
    const rng = new WorldRng(5);
    for (let t = 0; t < 2000; t++) {
      const b = () => {
        const x = rng.uniform(0, 28);
        const y = rng.uniform(0, 28);
        return [x, y, x + rng.uniform(1, 12), y + rng.uniform(1, 12)] as [
          number,
          number,
          number,
          number,
        ];
      };
      const a = b();
      const c = b();
      const box = (q: number[]) => ({ x1: q[0], y1: q[1], x2: q[2], y2: q[3] });
      expect(genevalRelations(a, c)).toEqual(positionRelations(box(a), box(c)));
    }
  });
});

describe("GenEval detection filtering", () => {
  it("keeps scores strictly above 0.3, or 0.9 for counting prompts, most confident first", () => {
    const dets = [
      det("circle", boxAt(5, 5), 0.3),
      det("circle", boxAt(15, 5), 0.31),
      det("circle", boxAt(25, 5), 0.9),
      det("circle", boxAt(25, 25), 0.91),
    ];
    expect(
      keptDetections(dets, "two_object")
        .get("circle")!
        .map((d) => d.score),
    ).toEqual([0.91, 0.9, 0.31]);
    expect(
      keptDetections(dets, "counting")
        .get("circle")!
        .map((d) => d.score),
    ).toEqual([0.91]);
    expect(keptDetections([det("square", boxAt(5, 5), 0.2)], "colors").has("square")).toBe(false);
  });

  it("caps each class at 16 detections", () => {
    const dets = Array.from({ length: 20 }, (_, i) => det("ring", boxAt(i, i), 0.5 + i / 100));
    const kept = keptDetections(dets, "single_object").get("ring")!;
    expect(kept).toHaveLength(16);
    expect(kept[0].score).toBeCloseTo(0.69);
    expect(kept[15].score).toBeCloseTo(0.54);
    // The cap applies before exclude: 20 detections never reach an exclude count of 17.
    const meta: GenevalMetadata = {
      ...singleObject("ring"),
      exclude: [{ class: "ring", count: 17 }],
    };
    expect(scoreGenevalImage(meta, dets).correct).toBe(true);
  });
});

describe("GenEval clauses", () => {
  it("counting means exactly N above 0.9, via include ≥ N and exclude ≥ N+1", () => {
    const meta = counting("circle", 3);
    const at = (n: number, score = 0.95) =>
      Array.from({ length: n }, (_, i) => det("circle", boxAt(4 + 8 * i, 5), score));
    expect(scoreGenevalImage(meta, at(3)).correct).toBe(true);
    const four = scoreGenevalImage(meta, at(4));
    expect(four.correct).toBe(false);
    expect(four.reason).toBe("expected circle<4, found 4");
    expect(scoreGenevalImage(meta, [...at(3), det("circle", boxAt(28, 28), 0.85)]).correct).toBe(
      true,
    );
    const two = scoreGenevalImage(meta, [...at(2), det("circle", boxAt(28, 28), 0.85)]);
    expect(two).toEqual({ correct: false, reason: "expected circle>=3, found 2" });
  });

  it("non-counting tags accept at least N (extra objects allowed) above 0.3", () => {
    const meta = twoObject("circle", "square");
    const dets = [
      det("circle", boxAt(5, 5), 0.35),
      det("square", boxAt(20, 5), 0.4),
      det("square", boxAt(20, 20), 0.4),
    ];
    expect(scoreGenevalImage(meta, dets).correct).toBe(true);
    expect(scoreGenevalImage(meta, dets.slice(1)).correct).toBe(false);
  });

  it("judges colour on the most confident `count` detections only", () => {
    const meta = colors("circle", "red");
    const red = det("circle", boxAt(5, 5), 0.8, "red");
    const blue = det("circle", boxAt(20, 5), 0.9, "blue");
    expect(scoreGenevalImage(meta, [red, blue]).correct).toBe(false);
    expect(scoreGenevalImage(meta, [{ ...red, score: 0.95 }, blue]).correct).toBe(true);
    const two: GenevalMetadata = {
      tag: "colors",
      include: [{ class: "circle", count: 2, color: "red" }],
      prompt: "p",
    };
    const extra = det("circle", boxAt(20, 20), 0.5, "red");
    expect(scoreGenevalImage(two, [red, blue, extra]).correct).toBe(false);
    expect(scoreGenevalImage(two, [red, { ...blue, score: 0.4 }, extra]).correct).toBe(true);
  });

  it("judges position of every top-count subject against every object of group 0", () => {
    const meta = position("circle", "left of", "square"); // clause 0 = square
    expect(meta.include[1].position).toEqual(["left of", 0]);
    const square = det("square", boxAt(20, 10));
    const leftCircle = det("circle", boxAt(5, 10), 0.9);
    expect(scoreGenevalImage(meta, [square, leftCircle]).correct).toBe(true);
    // A less confident circle on the right is not judged; a more confident one is.
    expect(
      scoreGenevalImage(meta, [square, leftCircle, det("circle", boxAt(28, 10), 0.5)]).correct,
    ).toBe(true);
    const r = scoreGenevalImage(meta, [square, leftCircle, det("circle", boxAt(28, 10), 0.95)]);
    expect(r).toEqual({
      correct: false,
      reason: "expected circle left of target, found right of target",
    });
    expect(scoreGenevalImage(meta, [leftCircle]).reason).toBe(
      "expected square>=1, found 0\nno target for circle to be left of",
    );
  });

  it("fails a position clause whose target group did not match", () => {
    const meta: GenevalMetadata = {
      tag: "position",
      include: [
        { class: "square", count: 1, color: "red" },
        { class: "circle", count: 1, position: ["left of", 0] },
      ],
      prompt: "p",
    };
    const r = scoreGenevalImage(meta, [
      det("square", boxAt(20, 10), 0.9, "blue"),
      det("circle", boxAt(5, 10)),
    ]);
    expect(r.correct).toBe(false);
    expect(r.reason.split("\n")[1]).toBe("no target for circle to be left of");
  });

  it("fails an exclude clause at ≥ count", () => {
    const meta: GenevalMetadata = {
      ...singleObject("circle"),
      exclude: [{ class: "triangle", count: 2 }],
    };
    const base = [det("circle", boxAt(5, 5))];
    expect(scoreGenevalImage(meta, [...base, det("triangle", boxAt(20, 5))]).correct).toBe(true);
    expect(
      scoreGenevalImage(meta, [
        ...base,
        det("triangle", boxAt(20, 5)),
        det("triangle", boxAt(20, 20)),
      ]).correct,
    ).toBe(false);
  });
});

describe("GenEval aggregation", () => {
  it("scores tags by image accuracy and overall as the unweighted mean of tags", () => {
    const row = (item: number, meta: GenevalMetadata, correct: boolean) => ({
      item,
      meta,
      result: { correct, reason: "" },
    });
    const s = singleObject("circle");
    const c = counting("square", 2);
    const rows = [
      row(0, s, true),
      row(0, s, true),
      row(1, c, true),
      row(1, c, false),
      row(2, c, false),
      row(2, c, false),
    ];
    const sum = summarizeGeneval(rows);
    expect(sum.tags).toEqual({ single_object: 1, counting: 0.25 });
    expect(sum.overall).toBeCloseTo(0.625);
    expect(sum.correctImages).toBeCloseTo(0.5);
    expect(sum.correctPrompts).toBeCloseTo(2 / 3);
    expect(sum.images).toBe(6);
  });
});
