/**
 * The results table of an experiment (`reca experiment table`), shaped like the paper's: rows =
 * settings, columns = GenEval's six tags and overall, DPG, edit (ImgEdit and GEdit scales), und
 * — plus what the paper does not have: the gap probe on non-dominant colours and the training
 * cost in CPU-minutes. Each cell is mean ± sample std over the seeds that finished, with n shown.
 * Rows whose jobs were evaluated under different protocols are refused, never averaged.
 */
import { undPairedDelta } from "../bench/und/index.ts";
import type { JobResult } from "./run.ts";

export { readResults } from "./run.ts";

export type Column = {
  key: string;
  label: string;
  digits: number;
  get: (r: JobResult) => number | undefined;
};

const tag = (t: string) => (r: JobResult) =>
  (r.eval.geneval?.tags as Record<string, number> | undefined)?.[t];

export const TABLE_COLUMNS: readonly Column[] = [
  { key: "single", label: "Single", digits: 2, get: tag("single_object") },
  { key: "two", label: "Two", digits: 2, get: tag("two_object") },
  { key: "count", label: "Count", digits: 2, get: tag("counting") },
  { key: "colors", label: "Colors", digits: 2, get: tag("colors") },
  { key: "position", label: "Position", digits: 2, get: tag("position") },
  { key: "colorAttr", label: "ColorAttr", digits: 2, get: tag("color_attr") },
  { key: "overall", label: "Overall", digits: 3, get: (r) => r.eval.geneval?.overall },
  { key: "dpg", label: "DPG", digits: 1, get: (r) => r.eval.dpg?.overall },
  {
    key: "imgedit",
    label: "ImgEdit",
    digits: 2,
    get: (r) => (r.eval.edit?.imgedit as { overall: number } | undefined)?.overall,
  },
  { key: "gedit", label: "GEdit", digits: 2, get: (r) => r.eval.edit?.overall },
  {
    key: "und",
    label: "Und",
    digits: 1,
    get: (r) => (r.eval.und ? r.eval.und.overall * 100 : undefined),
  },
  {
    key: "gapNonDominant",
    label: "Gap (non-dom.)",
    digits: 2,
    get: (r) => r.gap?.nonDominant.gap,
  },
  { key: "cpuMinutes", label: "CPU-min", digits: 0, get: (r) => r.trainCpuMinutes },
];

/**
 * The binomial standard error of one evaluation's GenEval overall from its sampling alone: overall
 * is the mean of the tags' accuracies, each k of n images, so SE = √(Σ p(1−p)/n) / tags. A tag at
 * 0 or n of n would claim no noise, so p is estimated as (k + 1)/(n + 2) for the variance.
 * Undefined when the result lacks per-tag image counts.
 */
export function genevalSamplingSe(r: JobResult): number | undefined {
  const g = r.eval.geneval as
    | { tags?: Record<string, number>; imagesPerTag?: Record<string, number> }
    | undefined;
  if (!g?.tags || !g.imagesPerTag) return undefined;
  const tags = Object.entries(g.tags);
  if (tags.length === 0) return undefined;
  let v = 0;
  for (const [t, acc] of tags) {
    const n = g.imagesPerTag[t];
    if (!n) return undefined;
    const p = (Math.round(acc * n) + 1) / (n + 2);
    v += (p * (1 - p)) / n;
  }
  return Math.sqrt(v) / tags.length;
}

export type Cell = { mean: number; std: number; n: number } | null;
export type TableRow = { row: string; label: string; seeds: number[]; cells: Record<string, Cell> };

export function meanStd(xs: readonly number[]): Cell {
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v =
    xs.length > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) : Number.NaN;
  return { mean, std: Math.sqrt(v), n: xs.length };
}

export function buildTable(
  results: readonly JobResult[],
  order: readonly string[] = [],
): TableRow[] {
  const byRow = new Map<string, JobResult[]>();
  for (const r of results) byRow.set(r.row, [...(byRow.get(r.row) ?? []), r]);
  const names = [
    ...order.filter((n) => byRow.has(n)),
    ...[...byRow.keys()].filter((n) => !order.includes(n)).sort(),
  ];
  return names.map((name) => {
    const rs = byRow.get(name)!.sort((a, b) => a.seed - b.seed);
    const protocols = new Set(rs.map((r) => JSON.stringify(r.protocol)));
    if (protocols.size > 1)
      throw new Error(
        `row ${name}: its seeds were evaluated under ${protocols.size} different protocols; ` +
          "rerun `reca experiment run` with one plan so every seed matches",
      );
    const cells: Record<string, Cell> = {};
    for (const c of TABLE_COLUMNS) {
      const xs = rs.map(c.get).filter((x): x is number => x !== undefined && Number.isFinite(x));
      cells[c.key] = meanStd(xs);
    }
    return { row: name, label: rs[0].label, seeds: rs.map((r) => r.seed), cells };
  });
}

export function formatCell(c: Cell, digits: number): string {
  if (!c) return "–";
  const m = c.mean.toFixed(digits);
  return c.n > 1 ? `${m} ± ${c.std.toFixed(digits)}` : m;
}

/** A Markdown table; columns with no value in any row are left out. */
export function formatMarkdown(rows: readonly TableRow[]): string {
  const cols = TABLE_COLUMNS.filter((c) => rows.some((r) => r.cells[c.key]));
  const head = ["Setting", "n", ...cols.map((c) => c.label)];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
  ];
  for (const r of rows)
    lines.push(
      `| ${[r.label, String(r.seeds.length), ...cols.map((c) => formatCell(r.cells[c.key], c.digits))].join(" | ")} |`,
    );
  return lines.join("\n");
}

export type DeltaRow = {
  row: string;
  label: string;
  /** Seeds both this row and the base finished (under the same protocol). */
  seeds: number[];
  cells: Record<string, Cell>;
  /**
   * The binomial sampling standard error of the mean GenEval-overall difference, as if the two
   * sides' images were independent (they share noise seeds, so this is an upper bound):
   * √(mean over seeds of SE_row² + SE_base²) / √seeds.
   */
  overallSamplingSe?: number;
  /**
   * The standard error over questions of the mean und difference (points), from each seed's
   * question-by-question pairing with the base (`undPairedDelta`): √(Σ SE_s²) / seeds. Only when
   * every paired result kept per-question outcomes (results evaluated
   * before und kept them do not).
   */
  undPairedSe?: number;
};

/** Columns compared with the base seed by seed (training cost is not a score). */
const DELTA_COLUMNS = TABLE_COLUMNS.filter((c) => c.key !== "cpuMinutes");

/**
 * Each row minus the base, seed by seed: a row's seed s samples with the same seed as the base's
 * seed s, so the paired difference cancels the shared sampling noise; mean ± std over the common
 * seeds. Rows with no seed in common with the base, or evaluated under another protocol, are
 * left out (never compared across protocols).
 */
export function pairedDeltas(results: readonly JobResult[], base = "base"): DeltaRow[] {
  const baseBySeed = new Map(results.filter((r) => r.row === base).map((r) => [r.seed, r]));
  if (baseBySeed.size === 0) return [];
  const byRow = new Map<string, JobResult[]>();
  for (const r of results) if (r.row !== base) byRow.set(r.row, [...(byRow.get(r.row) ?? []), r]);
  const out: DeltaRow[] = [];
  for (const [row, rs] of byRow) {
    const pairs = rs
      .map((r) => [r, baseBySeed.get(r.seed)] as const)
      .filter(
        (p): p is readonly [JobResult, JobResult] =>
          p[1] !== undefined && JSON.stringify(p[0].protocol) === JSON.stringify(p[1].protocol),
      )
      .sort((a, b) => a[0].seed - b[0].seed);
    if (pairs.length === 0) continue;
    const cells: Record<string, Cell> = {};
    for (const c of DELTA_COLUMNS) {
      const ds: number[] = [];
      for (const [r, b] of pairs) {
        const x = c.get(r);
        const y = c.get(b);
        if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y))
          ds.push(x - y);
      }
      cells[c.key] = meanStd(ds);
    }
    const d: DeltaRow = { row, label: rs[0].label, seeds: pairs.map((p) => p[0].seed), cells };
    const ses = pairs.map(([r, b]) => [genevalSamplingSe(r), genevalSamplingSe(b)]);
    if (ses.every(([a, b]) => a !== undefined && b !== undefined)) {
      const v = ses.reduce((acc, [a, b]) => acc + a! ** 2 + b! ** 2, 0) / ses.length;
      d.overallSamplingSe = Math.sqrt(v / ses.length);
    }
    const und = pairs.map(([r, b]) =>
      r.eval.und && b.eval.und ? undPairedDelta(b.eval.und, r.eval.und) : undefined,
    );
    if (und.every((u) => u !== undefined))
      d.undPairedSe = Math.sqrt(und.reduce((a, u) => a + u!.se ** 2, 0)) / und.length;
    out.push(d);
  }
  return out;
}

/** Delta rows in `order` (the main table's); rows it does not name last, by name. */
function inOrder(deltas: readonly DeltaRow[], order: readonly string[]): DeltaRow[] {
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  return [...deltas].sort((a, b) => rank(a.row) - rank(b.row) || a.row.localeCompare(b.row));
}

/** "+0.012", "−1.5": a difference with its sign always written. */
const signed = (x: number, digits: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(digits)}`;

/** The paired differences as a Markdown table, rows in `order` (the main table's). */
export function formatDeltaMarkdown(
  deltas: readonly DeltaRow[],
  order: readonly string[] = [],
  baseLabel = "Base",
): string {
  if (deltas.length === 0) return "";
  const rows = inOrder(deltas, order);
  const cols = DELTA_COLUMNS.filter((c) => rows.some((r) => r.cells[c.key]));
  const sign = (c: Cell, digits: number) => {
    if (!c) return "–";
    const m = signed(c.mean, digits);
    return c.n > 1 ? `${m} ± ${c.std.toFixed(digits)}` : m;
  };
  const head = [`Δ vs ${baseLabel} (paired by seed)`, "n", ...cols.map((c) => c.label)];
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map(
      (r) =>
        `| ${[r.label, String(r.seeds.length), ...cols.map((c) => sign(r.cells[c.key], c.digits))].join(" | ")} |`,
    ),
  ].join("\n");
}

/**
 * Each row against the base, from the paired differences (the same seeds on both sides, so a
 * row with fewer finished seeds is never set against the base's mean over more): the change in
 * GenEval overall, with its binomial sampling standard error where the results carry per-tag
 * image counts (a change within about two of them is what resampling the same models could
 * give), and in und (points), with the issue's rule that post-training must not cost
 * understanding more than 1 point flagged. Rows in `order` (the main table's).
 */
export function compareToBase(
  deltas: readonly DeltaRow[],
  order: readonly string[] = [],
  baseLabel = "Base",
): string[] {
  return inOrder(deltas, order).map((r) => {
    const overall = r.cells.overall?.mean;
    const und = r.cells.und?.mean;
    const se = r.overallSamplingSe;
    const parts = [
      overall === undefined
        ? null
        : `GenEval ${signed(overall, 3)}${se === undefined ? "" : ` (sampling SE ≤ ${se.toFixed(3)})`}`,
      und === undefined
        ? null
        : `und ${signed(und, 1)} points${r.undPairedSe === undefined ? "" : ` (paired SE ${r.undPairedSe.toFixed(1)})`}${und < -1 ? " (drops > 1 point)" : ""}`,
    ].filter((x) => x !== null);
    const seeds = `seed${r.seeds.length > 1 ? "s" : ""} ${r.seeds.join(", ")}`;
    return `${r.label} vs ${baseLabel} (${seeds}): ${parts.join(", ") || "no shared columns"}`;
  });
}

/** The paired table, then one line per row against the base; nothing when no row pairs. */
export function deltaSection(results: readonly JobResult[], order: readonly string[] = []): string {
  const base = results.find((r) => r.row === "base");
  const deltas = pairedDeltas(results);
  const md = formatDeltaMarkdown(deltas, order, base?.label);
  if (!md) return "";
  return `${md}\n\n${compareToBase(deltas, order, base?.label).join("\n")}\n`;
}
