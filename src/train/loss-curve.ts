/**
 * Training-loss curves from a run's metrics.jsonl (src/train/loop.ts writes one line per step):
 * reading them back (a resumed run repeats the steps after its last checkpoint; the last write of
 * a step wins), smoothing, a few summary numbers, and a self-contained SVG line chart — what the
 * condition ablations need to show copy collapse (a reconstruction loss that falls far below the
 * bottleneck run's) or its absence.
 */
import { existsSync, readFileSync } from "node:fs";

export type LossPoint = { step: number; loss: number };
export type LossSeries = { label: string; points: LossPoint[] };

export class LossCurveError extends Error {}

/**
 * The per-step losses of a metrics.jsonl, in step order. Lines without a finite loss (a run
 * stopped on a non-finite one) are left out; a line that is not JSON is an error naming the
 * file and line, as is a missing file. With `part`, the named part of the loss the task logged
 * beside the total (`lossParts`, e.g. `gen`: the generation rows, `text`: the image→text rows);
 * lines without it (runs trained before parts were logged) are left out.
 */
export function readLossCurve(path: string, part?: string): LossPoint[] {
  if (!existsSync(path)) throw new LossCurveError(`${path}: no such metrics file`);
  const byStep = new Map<number, number>();
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (line.trim() === "") return;
      let rec: { step?: unknown; loss?: unknown; lossParts?: Record<string, unknown> };
      try {
        rec = JSON.parse(line);
      } catch {
        throw new LossCurveError(`${path}:${i + 1}: not a JSON line`);
      }
      const { step } = rec;
      const loss = part === undefined ? rec.loss : rec.lossParts?.[part];
      if (typeof step !== "number" || !Number.isInteger(step) || step < 1) return;
      if (typeof loss !== "number" || !Number.isFinite(loss)) return;
      byStep.set(step, loss);
    });
  return [...byStep].sort((a, b) => a[0] - b[0]).map(([step, loss]) => ({ step, loss }));
}

/** Trailing moving average over `window` points (window 1: unchanged). */
export function movingAverage(points: readonly LossPoint[], window: number): LossPoint[] {
  if (!Number.isInteger(window) || window < 1)
    throw new Error(`window must be an integer ≥ 1, got ${window}`);
  let sum = 0;
  return points.map((p, i) => {
    sum += p.loss;
    if (i >= window) sum -= points[i - window].loss;
    return { step: p.step, loss: sum / Math.min(i + 1, window) };
  });
}

export type LossSummary = {
  steps: number;
  /** The first logged step's loss. */
  first: number;
  /** Mean over the first 10% of the logged steps (at least one). */
  early: number;
  /** Mean over the last 25% of the logged steps (at least one). */
  late: number;
  min: number;
};

export function summarizeLoss(points: readonly LossPoint[]): LossSummary | null {
  if (points.length === 0) return null;
  const mean = (xs: readonly LossPoint[]) => xs.reduce((a, p) => a + p.loss, 0) / xs.length;
  const n = points.length;
  return {
    steps: points[n - 1].step,
    first: points[0].loss,
    early: mean(points.slice(0, Math.max(1, Math.round(n * 0.1)))),
    late: mean(points.slice(n - Math.max(1, Math.round(n * 0.25)))),
    min: Math.min(...points.map((p) => p.loss)),
  };
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
];

function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

export type LossChartOptions = {
  title?: string;
  width?: number;
  /** Default: 300 px plus a 16 px legend line per series. */
  height?: number;
  /** Trailing moving-average window applied before drawing (default 1: raw). */
  smooth?: number;
  /** Clip the y axis at this loss (the first steps of a run can dwarf the rest). */
  yMax?: number;
};

/**
 * One polyline per series on shared axes (step, loss), with ticks and a legend; a standalone SVG
 * document with no scripts or external references. Series without points are listed in the
 * legend as "(no data)".
 */
export function lossChartSvg(series: readonly LossSeries[], o: LossChartOptions = {}): string {
  const width = o.width ?? 720;
  const legendRows = series.length;
  const height = o.height ?? 300 + 16 * legendRows;
  const m = { left: 56, right: 16, top: o.title ? 32 : 14, bottom: 40 + 16 * legendRows };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  if (plotW < 40 || plotH < 40) throw new Error(`chart ${width}×${height} too small`);
  const drawn = series.map((s) => movingAverage(s.points, o.smooth ?? 1));
  const all = drawn.flat();
  const maxStep = all.length ? Math.max(...all.map((p) => p.step)) : 1;
  const minStep = all.length ? Math.min(...all.map((p) => p.step)) : 0;
  let yLo = all.length ? Math.min(...all.map((p) => p.loss)) : 0;
  let yHi = all.length ? Math.max(...all.map((p) => p.loss)) : 1;
  if (o.yMax !== undefined && o.yMax > yLo) yHi = Math.min(yHi, o.yMax);
  if (yHi <= yLo) {
    yHi = yLo + 1;
  }
  const pad = (yHi - yLo) * 0.05;
  yLo = Math.max(0, yLo - pad);
  yHi += pad;
  const xTicks = niceTicks(minStep, maxStep, 6);
  const yTicks = niceTicks(yLo, yHi, 5);
  const x = (step: number) =>
    m.left + (maxStep === minStep ? plotW / 2 : ((step - minStep) / (maxStep - minStep)) * plotW);
  const y = (loss: number) =>
    m.top + plotH - ((Math.min(Math.max(loss, yLo), yHi) - yLo) / (yHi - yLo)) * plotH;
  const f = (v: number) => v.toFixed(1);
  // The accessible name: a chart of what, over which series (also right when inlined in HTML).
  const name = escapeXml(`${o.title ?? "Training loss"}: ${series.map((s) => s.label).join(", ")}`);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${name}" font-family="system-ui,sans-serif" font-size="11">`,
    `<title>${name}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  if (o.title)
    parts.push(
      `<text x="${width / 2}" y="20" text-anchor="middle" font-size="13">${escapeXml(o.title)}</text>`,
    );
  for (const t of yTicks)
    parts.push(
      `<line x1="${m.left}" x2="${m.left + plotW}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${f(y(t) + 4)}" text-anchor="end" fill="#444">${t}</text>`,
    );
  for (const t of xTicks)
    parts.push(
      `<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" stroke="#444"/>`,
      `<text x="${f(x(t))}" y="${m.top + plotH + 16}" text-anchor="middle" fill="#444">${t}</text>`,
    );
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`,
    `<text x="${m.left + plotW / 2}" y="${m.top + plotH + 30}" text-anchor="middle" fill="#444">step</text>`,
    `<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#444">loss${(o.smooth ?? 1) > 1 ? ` (mean of ${o.smooth} steps)` : ""}</text>`,
  );
  drawn.forEach((pts, i) => {
    const color = PALETTE[i % PALETTE.length];
    if (pts.length > 0)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts
          .map((p) => `${f(x(p.step))},${f(y(p.loss))}`)
          .join(" ")}"><title>${escapeXml(series[i].label)}</title></polyline>`,
      );
    const ly = m.top + plotH + 46 + 16 * i;
    parts.push(
      `<line x1="${m.left}" x2="${m.left + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${m.left + 26}" y="${ly}" fill="#222">${escapeXml(series[i].label)}${pts.length ? "" : " (no data)"}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
