import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  LossCurveError,
  lossChartSvg,
  movingAverage,
  niceTicks,
  readLossCurve,
  summarizeLoss,
} from "../../src/train/loss-curve.ts";

const dir = mkdtempSync(join(tmpdir(), "reca-loss-"));
const line = (step: number, loss: number | null) => JSON.stringify({ step, loss, lr: 1e-4 });

describe("readLossCurve", () => {
  it("keeps a resumed run's last write of each step, in step order, and drops non-finite losses", () => {
    const f = join(dir, "metrics.jsonl");
    // Steps 1–4, a crash, then a resume from the checkpoint at step 2 that re-ran 3 and 4.
    writeFileSync(
      f,
      [
        line(1, 1),
        line(2, 0.8),
        line(3, 0.7),
        line(4, 0.65),
        line(3, 0.71),
        line(4, 0.6),
        line(5, null),
        "",
      ].join("\n"),
    );
    expect(readLossCurve(f)).toEqual([
      { step: 1, loss: 1 },
      { step: 2, loss: 0.8 },
      { step: 3, loss: 0.71 },
      { step: 4, loss: 0.6 },
    ]);
  });

  it("names the file and line of a corrupt record, and a missing file", () => {
    const f = join(dir, "bad.jsonl");
    writeFileSync(f, `${line(1, 1)}\n{"step": 2, "loss"\n`);
    expect(() => readLossCurve(f)).toThrow(LossCurveError);
    expect(() => readLossCurve(f)).toThrow(/bad\.jsonl:2: not a JSON line/);
    expect(() => readLossCurve(join(dir, "none.jsonl"))).toThrow(
      /none\.jsonl: no such metrics file/,
    );
  });

  it("reads a named part of the loss, leaving out steps logged without it", () => {
    const f = join(dir, "parts.jsonl");
    const withParts = (step: number, gen: number, text: number) =>
      JSON.stringify({ step, loss: gen + 0.5 * text, lossParts: { gen, text }, lr: 1e-4 });
    // Step 1 from a run before parts were logged; 2–3 with them.
    writeFileSync(
      f,
      [line(1, 0.4), withParts(2, 0.08, 0.5), withParts(3, 0.07, 0.4), ""].join("\n"),
    );
    expect(readLossCurve(f).map((p) => p.loss)).toEqual([0.4, 0.33, 0.27]);
    expect(readLossCurve(f, "gen")).toEqual([
      { step: 2, loss: 0.08 },
      { step: 3, loss: 0.07 },
    ]);
    expect(readLossCurve(f, "text").map((p) => p.loss)).toEqual([0.5, 0.4]);
    expect(readLossCurve(f, "nope")).toEqual([]);
  });
});

describe("curve arithmetic", () => {
  const pts = [4, 2, 3, 1, 0].map((loss, i) => ({ step: i + 1, loss }));

  it("moving average is trailing, and the identity at window 1", () => {
    expect(movingAverage(pts, 1)).toEqual(pts);
    expect(movingAverage(pts, 2).map((p) => p.loss)).toEqual([4, 3, 2.5, 2, 0.5]);
    expect(movingAverage(pts, 3).map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    expect(() => movingAverage(pts, 0)).toThrow(/window/);
  });

  it("summarises where a curve starts, settles and bottoms out", () => {
    const long = Array.from({ length: 20 }, (_, i) => ({ step: i + 1, loss: 20 - i }));
    expect(summarizeLoss(long)).toEqual({
      steps: 20,
      first: 20,
      early: 19.5, // steps 1–2
      late: 3, // steps 16–20: 5, 4, 3, 2, 1
      min: 1,
    });
    expect(summarizeLoss([])).toBeNull();
  });

  it("ticks are round numbers covering the range", () => {
    expect(niceTicks(0, 200, 4)).toEqual([0, 50, 100, 150, 200]);
    expect(niceTicks(0.3, 0.55, 5)).toEqual([0.3, 0.35, 0.4, 0.45, 0.5, 0.55]);
    expect(niceTicks(0.31, 0.58, 5)).toEqual([0.4, 0.5]); // step 0.1: 0.05 would give 6 ticks
    expect(niceTicks(1, 1)).toEqual([1]);
  });
});

describe("lossChartSvg", () => {
  const falling = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 1 / (i + 1) }));
  const flat = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 0.5 }));

  it("draws each series inside the plot, lower loss lower on the page, labels escaped", () => {
    const svg = lossChartSvg(
      [
        { label: "RecA <bottleneck> & co", points: falling },
        { label: "flat", points: flat },
        { label: "not started", points: [] },
      ],
      { title: "t", width: 600, height: 400 },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).not.toMatch(/<script|href=/);
    expect(svg).toContain("RecA &lt;bottleneck&gt; &amp; co");
    expect(svg).toContain("not started (no data)");
    expect(svg.split("\n")[0]).toContain(
      'role="img" aria-label="t: RecA &lt;bottleneck&gt; &amp; co, flat, not started"',
    );
    expect(svg.split("\n")[1]).toBe(
      "<title>t: RecA &lt;bottleneck&gt; &amp; co, flat, not started</title>",
    );
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) =>
      m[1].split(" ").map((xy) => xy.split(",").map(Number)),
    );
    expect(lines).toHaveLength(2); // the empty series is only in the legend
    const frame = svg.match(/<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="none"/)!;
    const [fx, fy, fw, fh] = frame.slice(1).map(Number);
    for (const l of lines)
      for (const [x, y] of l) {
        expect(x).toBeGreaterThanOrEqual(fx - 0.05);
        expect(x).toBeLessThanOrEqual(fx + fw + 0.05);
        expect(y).toBeGreaterThanOrEqual(fy - 0.05);
        expect(y).toBeLessThanOrEqual(fy + fh + 0.05);
      }
    // Page y grows downward: a falling loss climbs down the page, step by step.
    const ys = lines[0].map(([, y]) => y);
    for (let i = 1; i < ys.length; i++) expect(ys[i]).toBeGreaterThanOrEqual(ys[i - 1]);
    expect(ys.at(-1)!).toBeGreaterThan(ys[0]);
    // The flat series is one horizontal line; the first step (x) is the frame's left edge.
    expect(new Set(lines[1].map(([, y]) => y)).size).toBe(1);
    expect(lines[0][0][0]).toBeCloseTo(fx, 1);
  });

  it("smooths before drawing and clips the axis at yMax", () => {
    const raw = lossChartSvg([{ label: "a", points: falling }]);
    const clipped = lossChartSvg([{ label: "a", points: falling }], { yMax: 0.2, smooth: 5 });
    expect(clipped).toContain("mean of 5 steps");
    expect(raw).not.toContain("mean of");
    const yTicks = (svg: string) =>
      [...svg.matchAll(/text-anchor="end" fill="#444">([\d.]+)</g)].map((m) => Number(m[1]));
    expect(Math.max(...yTicks(raw))).toBeGreaterThanOrEqual(1);
    expect(Math.max(...yTicks(clipped))).toBeLessThanOrEqual(0.25);
    expect(() => lossChartSvg([], { width: 50 })).toThrow(/too small/);
  });
});
