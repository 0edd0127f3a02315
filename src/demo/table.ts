/** The demo's before/after table: GenEval per tag and overall, und per type and overall, gap. */
import { GENEVAL_TAGS } from "../bench/geneval/templates.ts";
import { VQA_TYPES } from "../bench/und/index.ts";
import type { DemoModelResult, DemoResult, DemoTraining } from "./run.ts";

export type DemoRow = {
  label: string;
  base: number | undefined;
  reca: number | undefined;
  /** A section heading row (overall score). */
  head?: boolean;
};

/** The table's rows, shared by the terminal table and the HTML report. */
export function demoRows(r: Pick<DemoResult, "before" | "after">): DemoRow[] {
  const tag = (m: DemoModelResult, t: string) =>
    (m.geneval.tags as Record<string, number> | undefined)?.[t];
  const type = (m: DemoModelResult, t: string) => (m.und.types as Record<string, number>)[t];
  const rows: DemoRow[] = [
    {
      label: "GenEval overall",
      base: r.before.geneval.overall,
      reca: r.after.geneval.overall,
      head: true,
    },
  ];
  for (const t of GENEVAL_TAGS)
    if (tag(r.before, t) !== undefined || tag(r.after, t) !== undefined)
      rows.push({ label: t, base: tag(r.before, t), reca: tag(r.after, t) });
  rows.push({
    label: "und overall",
    base: r.before.und.overall,
    reca: r.after.und.overall,
    head: true,
  });
  for (const t of VQA_TYPES)
    if (type(r.before, t) !== undefined || type(r.after, t) !== undefined)
      rows.push({ label: t, base: type(r.before, t), reca: type(r.after, t) });
  const g = (m: DemoModelResult) => m.gap.summary;
  rows.push(
    {
      label: "gap probe (recognition − generation)",
      base: g(r.before).all.gap,
      reca: g(r.after).all.gap,
      head: true,
    },
    { label: "generation", base: g(r.before).all.generation, reca: g(r.after).all.generation },
    { label: "recognition", base: g(r.before).all.recognition, reca: g(r.after).all.recognition },
    {
      label: "gap, non-dominant colours",
      base: g(r.before).nonDominant.gap,
      reca: g(r.after).nonDominant.gap,
    },
  );
  return rows;
}

export const fmtScore = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(3));
export const fmtDelta = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined
    ? ""
    : `${b - a >= 0 ? "+" : "−"}${Math.abs(b - a).toFixed(3)}`;

/** "N steps", or "N steps of M planned, stopped at the budget" when the deadline cut the run. */
export function recaStepsText(t: DemoTraining): string {
  return (
    `${t.steps} steps` +
    (t.stoppedAtBudget && t.plan ? ` of ${t.plan.steps} planned, stopped at the budget` : "")
  );
}

/**
 * The RecA run's training minutes: this invocation's, or for a resumed run (whose training mostly
 * happened before this invocation) the loop's total and the step it resumed at.
 */
export function recaMinutesText(t: DemoTraining): string {
  return t.resumedFrom !== null
    ? `${t.loopMinutes.toFixed(1)} min training in total (resumed at step ${t.resumedFrom})`
    : `${t.minutes.toFixed(1)} min training`;
}

/** What the quick set and the run were, in one line. */
export function demoFootnote(r: DemoResult): string {
  const t = r.after.reca;
  const ge = r.before.geneval;
  return (
    `GenEval: ${ge.items} prompts × ${ge.perItem} images (${ge.set}); ` +
    `und: ${r.before.und.questions} questions (${r.before.und.set}); ` +
    `gap: ${r.before.gap.samples} per pair, seed ${r.before.gap.seed}; ` +
    `RecA: ${recaStepsText(t)}` +
    (t.budgetMinutes !== null ? ` (budget ${t.budgetMinutes} min)` : "") +
    `, ${recaMinutesText(t)}; demo ${r.minutes.toFixed(1)} min`
  );
}

export function formatDemoTable(r: DemoResult): string {
  const rows = demoRows(r);
  const w = Math.max(...rows.map((x) => x.label.length + (x.head ? 0 : 2)));
  const lines = [`${"".padEnd(w)}    base    RecA       Δ`];
  for (const x of rows) {
    const label = x.head ? x.label : `  ${x.label}`;
    lines.push(
      `${label.padEnd(w)}  ${fmtScore(x.base).padStart(6)}  ${fmtScore(x.reca).padStart(6)}  ${fmtDelta(x.base, x.reca).padStart(6)}`,
    );
  }
  lines.push(`[${demoFootnote(r)}]`);
  return lines.join("\n");
}
