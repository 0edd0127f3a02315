/**
 * The results table of an experiment (`reca experiment table`), shaped like the paper's: rows =
 * settings, columns = GenEval's six tags and overall, DPG, edit (ImgEdit and GEdit scales), und
 * — plus what the paper does not have: the gap probe on non-dominant colours and the training
 * cost in CPU-minutes. Each cell is mean ± sample std over the seeds that finished, with n shown.
 * Rows whose jobs were evaluated under different protocols are refused, never averaged.
 */
import { undPairedDelta } from "../bench/und/index.ts";
import type { Claim } from "./plan.ts";
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

/** GenEval's tag behind each tag column. */
const TAG_OF: Record<string, string> = {
  single: "single_object",
  two: "two_object",
  count: "counting",
  colors: "colors",
  position: "position",
  colorAttr: "color_attr",
};

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
  const tags = Object.keys((r.eval.geneval?.tags as Record<string, number> | undefined) ?? {});
  if (tags.length === 0) return undefined;
  let v = 0;
  for (const t of tags) {
    const se = tagSe(r, t);
    if (se === undefined) return undefined;
    v += se * se;
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
  if (!results.some((r) => r.row === base)) return [];
  const rows = [...new Set(results.map((r) => r.row))].filter((r) => r !== base);
  const out: DeltaRow[] = [];
  for (const row of rows) {
    const pairs = seedPairs(results, row, base);
    if (pairs.length === 0) continue;
    const cells: Record<string, Cell> = {};
    for (const c of DELTA_COLUMNS) cells[c.key] = meanStd(pairedDiffs(pairs, c).map((x) => x.d));
    const label = results.find((r) => r.row === row)!.label;
    const d: DeltaRow = { row, label, seeds: pairs.map((p) => p[0].seed), cells };
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

/**
 * `row`'s results beside `against`'s of the same seed, by seed; seeds either side lacks, or
 * evaluated under different protocols, are left out (never compared across protocols).
 */
function seedPairs(
  results: readonly JobResult[],
  row: string,
  against: string,
): [JobResult, JobResult][] {
  const bySeed = new Map(results.filter((r) => r.row === against).map((r) => [r.seed, r]));
  return results
    .filter((r) => r.row === row)
    .map((r) => [r, bySeed.get(r.seed)] as const)
    .filter(
      (p): p is readonly [JobResult, JobResult] =>
        p[1] !== undefined && JSON.stringify(p[0].protocol) === JSON.stringify(p[1].protocol),
    )
    .map(([r, b]): [JobResult, JobResult] => [r, b])
    .sort((a, b) => a[0].seed - b[0].seed);
}

/** One column's difference (first minus second) at each seed pair where both have a value. */
function pairedDiffs(pairs: readonly (readonly [JobResult, JobResult])[], c: Column) {
  const out: { seed: number; d: number }[] = [];
  for (const [r, b] of pairs) {
    const x = c.get(r);
    const y = c.get(b);
    if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y))
      out.push({ seed: r.seed, d: x - y });
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

/** Two-sided 95% critical values of Student's t for 1–30 degrees of freedom. */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

/** The two-sided 95% critical value of Student's t with `df` degrees of freedom (df ≥ 1). */
export function tCritical95(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`t needs ≥ 1 degree of freedom, not ${df}`);
  if (df <= 30) return T95[df - 1];
  return df <= 40 ? 2.021 : df <= 60 ? 2.0 : df <= 120 ? 1.98 : 1.96;
}

export type ClaimReading =
  | "row"
  | "against"
  | "unresolved"
  /** The same nonzero difference at every seed and no measurement error to test it against. */
  | "constant"
  | "one seed"
  | "no data";

export type MetricCheck = {
  key: string;
  label: string;
  digits: number;
  /** `row` minus `against` at each seed both finished under one protocol. */
  diffs: { seed: number; d: number }[];
  cell: Cell;
  /**
   * The measurement standard error of the mean difference where the results let it be computed
   * (GenEval overall and tags: binomial over images; und: paired over questions).
   */
  measurementSe?: number;
  /** The standard error the test uses: the larger of std/√n and the measurement error. */
  se?: number;
  /** mean / se; absent under two seeds. */
  t?: number;
  critical?: number;
  /** Which side the difference favours at 95%, or why none is read. */
  reading: ClaimReading;
};

export type ClaimCheck = Omit<Claim, "metrics"> & {
  rowLabel: string;
  againstLabel: string;
  seeds: number[];
  metrics: MetricCheck[];
};

/** Differences this small are rounding, not a difference (scores are means of counts). */
const EPS = 1e-9;

/** The binomial standard error of one tag's accuracy (k of n images, Laplace-smoothed rate). */
function tagSe(r: JobResult, t: string): number | undefined {
  const g = r.eval.geneval as
    | { tags?: Record<string, number>; imagesPerTag?: Record<string, number> }
    | undefined;
  const acc = g?.tags?.[t];
  const n = g?.imagesPerTag?.[t];
  if (acc === undefined || !n) return undefined;
  const p = (Math.round(acc * n) + 1) / (n + 2);
  return Math.sqrt((p * (1 - p)) / n);
}

/**
 * The measurement standard error of one paired difference (row r minus b) in `key`'s units,
 * where the results carry what it takes: the two sides' GenEval sampling errors as if independent
 * (an upper bound: they share noise seeds), or und's paired error over questions. Undefined for
 * columns without it (DPG, edit, gap).
 */
function pairSe(key: string, r: JobResult, b: JobResult): number | undefined {
  const both = (x: number | undefined, y: number | undefined) =>
    x === undefined || y === undefined ? undefined : Math.sqrt(x * x + y * y);
  if (key === "overall") return both(genevalSamplingSe(r), genevalSamplingSe(b));
  if (TAG_OF[key]) return both(tagSe(r, TAG_OF[key]), tagSe(b, TAG_OF[key]));
  if (key === "und" && r.eval.und && b.eval.und) return undPairedDelta(b.eval.und, r.eval.und)?.se;
  return undefined;
}

/**
 * Checks the paper's findings on the table: for each claim, `row` minus `against` seed by seed
 * (both sampled with the same seed, so shared sampling noise cancels), and a t-test of the mean
 * difference against zero on each named column. Its standard error is the spread over seeds
 * (std/√n), but never less than the measurement error where the results give one (images per
 * GenEval tag, und questions): with two or three seeds the spread alone can be near zero by
 * chance (und moves in steps of one question), and reading that as certainty would be wrong.
 * Where some seeds' results predate what the measurement error needs (und outcomes kept since
 * 02df6ad), their error is taken as the rms of the others'. A reading is "row" or "against" only
 * when |t| exceeds Student's 95% bound for n − 1 degrees of freedom; with one seed nothing is
 * tested. Unknown columns are an error naming the known ones.
 */
export function checkClaims(results: readonly JobResult[], claims: readonly Claim[]): ClaimCheck[] {
  const label = (row: string) => results.find((r) => r.row === row)?.label ?? row;
  return claims.map((c) => {
    const pairs = seedPairs(results, c.row, c.against);
    const metrics = c.metrics.map((key): MetricCheck => {
      const col = DELTA_COLUMNS.find((k) => k.key === key);
      if (!col)
        throw new Error(
          `claim "${c.claim}": no column ${key}; columns are ${DELTA_COLUMNS.map((k) => k.key).join(", ")}`,
        );
      const diffs = pairedDiffs(pairs, col).map(({ seed, d }) => ({
        seed,
        d: Math.abs(d) < EPS ? 0 : d,
      }));
      const cell = meanStd(diffs.map((x) => x.d));
      const m: MetricCheck = {
        key,
        label: col.label,
        digits: col.digits,
        diffs,
        cell,
        reading: "no data",
      };
      if (!cell) return m;
      const used = pairs.filter(([r]) => diffs.some((x) => x.seed === r.seed));
      // Pairs whose results predate what the error needs (und outcomes) count as the others' rms.
      const ses = used.map(([r, b]) => pairSe(key, r, b)).filter((x) => x !== undefined);
      if (ses.length > 0)
        m.measurementSe = Math.sqrt(ses.reduce((a, x) => a + x ** 2, 0) / ses.length / used.length);
      if (cell.n === 1) return { ...m, reading: "one seed" };
      const critical = tCritical95(cell.n - 1);
      const se = Math.max(cell.std / Math.sqrt(cell.n), m.measurementSe ?? 0);
      if (se < EPS) return { ...m, reading: Math.abs(cell.mean) < EPS ? "unresolved" : "constant" };
      const t = cell.mean / se;
      const reading = Math.abs(t) > critical ? (t > 0 ? "row" : "against") : "unresolved";
      return { ...m, se, t, critical, reading };
    });
    return {
      ...c,
      rowLabel: label(c.row),
      againstLabel: label(c.against),
      seeds: pairs.map((p) => p[0].seed),
      metrics,
    };
  });
}

/** The claim checks as a Markdown table, one line per claim × column. */
export function formatClaimsMarkdown(checks: readonly ClaimCheck[]): string {
  if (checks.length === 0) return "";
  const head = [
    "The paper's claim",
    "Paired difference",
    "Column",
    "Per seed",
    "Mean ± std",
    "t (95% bound)",
    "Reading",
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i < 3 ? "---" : i === 6 ? "---" : "---:")).join(" | ")} |`,
  ];
  for (const c of checks)
    for (const [i, m] of c.metrics.entries()) {
      const perSeed = m.diffs.map((x) => `${signed(x.d, m.digits)} (s${x.seed})`).join(", ");
      const t = m.t === undefined ? "–" : `${signed(m.t, 1)} (±${m.critical!.toFixed(2)})`;
      const reading = {
        row: `${c.rowLabel} higher`,
        against: `${c.againstLabel} higher`,
        unresolved: "not resolved",
        constant: "same at every seed: no error to test",
        "one seed": "one seed: not tested",
        "no data": "no shared seeds",
      }[m.reading];
      lines.push(
        `| ${[
          i === 0 ? c.claim : "",
          i === 0 ? `${c.rowLabel} − ${c.againstLabel}` : "",
          m.label,
          perSeed || "–",
          m.cell
            ? `${signed(m.cell.mean, m.digits)}${m.cell.n > 1 ? ` ± ${m.cell.std.toFixed(m.digits)}` : ""}`
            : "–",
          t,
          reading,
        ].join(" | ")} |`,
      );
    }
  return lines.join("\n");
}
