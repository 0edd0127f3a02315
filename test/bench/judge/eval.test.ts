import { describe, expect, it } from "vitest";
import type { JudgeSample } from "../../../src/bench/judge/data.ts";
import { scoreDetections } from "../../../src/bench/judge/eval.ts";
import { boxIou, greedyMatch } from "../../../src/bench/judge/match.ts";
import type { Detection } from "../../../src/bench/judge/types.ts";

const img = { width: 32, height: 32, data: new Float32Array(32 * 32 * 3) };
const sample: JudgeSample = {
  image: img,
  truth: [
    { category: "circle", color: "red", box: [2, 2, 10, 10] },
    { category: "circle", color: "blue", box: [20, 2, 28, 10] },
    { category: "ring", color: "white", box: [10, 20, 20, 30] },
  ],
};
const det = (d: Partial<Detection> & Pick<Detection, "box">): Detection => ({
  category: "circle",
  color: "red",
  score: 0.95,
  ...d,
});

describe("judge evaluation metrics", () => {
  it("IoU and greedy matching follow the 0.5 rule", () => {
    expect(boxIou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(boxIou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3);
    expect(boxIou([0, 0, 4, 4], [4, 4, 8, 8])).toBe(0);
    expect(
      greedyMatch(
        [
          [0, 0, 10, 10],
          [0, 0, 10, 10],
        ],
        [[1, 0, 10, 10]],
      ),
    ).toEqual([0, -1]);
    expect(greedyMatch([[0, 0, 10, 10]], [[5, 0, 15, 10]])).toEqual([-1]);
  });

  it("perfect detections score 1 everywhere", () => {
    const dets = sample.truth.map((t) => det({ ...t, score: 0.99 }));
    const m = scoreDetections([sample], [dets]);
    expect([m.f1, m.colorAccuracy, m.countAccuracy, m.countAccuracyAt09, m.precisionAt09]).toEqual([
      1, 1, 1, 1, 1,
    ]);
    expect(m.calibration[9]).toMatchObject({ n: 3, precision: 1 });
  });

  it("wrong category, wrong colour, duplicates and low scores count as GenEval would", () => {
    const dets = [
      det({ box: [2, 2, 10, 10], score: 0.99 }), // TP
      det({ box: [2, 2, 10, 10], score: 0.5 }), // duplicate → FP
      det({ box: [20, 2, 28, 10], color: "green", score: 0.6 }), // TP, wrong colour, below 0.9
      det({ box: [10, 20, 20, 30], category: "square", color: "white", score: 0.95 }), // wrong category
      det({ box: [0, 25, 5, 30], score: 0.2 }), // junk below 0.3: ignored at 0.3
    ];
    const m = scoreDetections([sample], [dets]);
    expect(m.precision).toBeCloseTo(2 / 4);
    expect(m.recall).toBeCloseTo(2 / 3);
    expect(m.colorAccuracy).toBeCloseTo(1 / 2);
    expect(m.countAccuracy).toBe(0);
    expect(m.precisionAt09).toBeCloseTo(1 / 2);
    expect(m.recallAt09).toBeCloseTo(1 / 3);
    expect(m.calibration[2]).toMatchObject({ n: 1, precision: 0 });
  });

  it("exact count needs every category's count to match at the cut", () => {
    const dets = [
      det({ box: [2, 2, 10, 10], score: 0.95 }),
      det({ box: [20, 2, 28, 10], color: "blue", score: 0.8 }),
      det({ box: [10, 20, 20, 30], category: "ring", color: "white", score: 0.95 }),
    ];
    const m = scoreDetections([sample], [dets]);
    expect(m.countAccuracy).toBe(1);
    expect(m.countAccuracyAt09).toBe(0); // only one circle above 0.9
  });
});
