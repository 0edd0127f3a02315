/**
 * The text report of `npm run bench`: per section (a model's train step, the U-Net's sampling
 * forward) every engine path against the PyTorch peer, then a summary of best reca path /
 * PyTorch with the issue's targets and how far each is missed, then matmul throughput.
 */
import { isFailure, type machineInfo, type Outcome, torchPython } from "./child.ts";
import type { ForwardResult, MatmulResult, TrainResult } from "./measure.ts";

export type PeerResult = {
  ms: number;
  params: number;
  peakRssBytes: number | null;
  otherLoad: number | null;
};
export type TorchMatmul = { threads: number; gflops: Record<string, number> };

/** One engine path of a section. */
export type PathResult = { label: string; result: Outcome<TrainResult | ForwardResult> };

export type RatioKey = "transformerStep" | "unetStep" | "unetForward";

export type Section = {
  key: RatioKey;
  title: string;
  batch: string;
  /** Rows per timed call (samples/s). */
  rows: number;
  paths: PathResult[];
  torch: Outcome<PeerResult>;
};

/** Best reca path / PyTorch, lower is better (issue 21's targets; none for the forward). */
export const TARGETS: Partial<Record<RatioKey, number>> = { transformerStep: 1.5, unetStep: 2.5 };

const int = (x: number) => Math.round(x).toLocaleString("en-US");
const fix = (x: number, d = 1) => x.toFixed(d);
const gb = (b: number | null | undefined) => (b ? `${(b / 2 ** 30).toFixed(2)} GB` : "–");
export const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ")
      .trimEnd();
  const sep = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join("\n");
}

/** The fastest path that ran. */
export function best(s: Section): { label: string; ms: number } | null {
  const ran = s.paths.flatMap((p) =>
    isFailure(p.result) ? [] : [{ label: p.label, ms: p.result.medianMs }],
  );
  return ran.sort((a, b) => a.ms - b.ms)[0] ?? null;
}

/** Best reca / PyTorch per section (null where either side is missing). */
export function ratios(sections: Section[]): Partial<Record<RatioKey, number | null>> {
  const out: Partial<Record<RatioKey, number | null>> = {};
  for (const s of sections) {
    const b = best(s);
    out[s.key] = b && !isFailure(s.torch) ? b.ms / s.torch.ms : null;
  }
  return out;
}

function sectionTable(s: Section, notes: string[]): string {
  const rows = [["path", "batch", "ms", "samples/s", "first call", "peak RSS", "other load"]];
  for (const p of s.paths) {
    const r = p.result;
    if (isFailure(r)) {
      rows.push([`  ${p.label}`, "", "failed"]);
      notes.push(`${s.title} ${p.label}: ${r.error}`);
      continue;
    }
    rows.push([
      `  ${p.label}`,
      s.batch,
      int(r.medianMs),
      fix((s.rows * 1000) / r.medianMs),
      `${fix(r.firstCallMs / 1000)} s`,
      gb(r.peakRssBytes),
      pct(r.otherLoad),
    ]);
  }
  if (isFailure(s.torch)) {
    rows.push(["  PyTorch", "", "–"]);
    notes.push(`${s.title} PyTorch: ${s.torch.error}`);
  } else {
    const t = s.torch;
    rows.push([
      "  PyTorch",
      s.batch,
      int(t.ms),
      fix((s.rows * 1000) / t.ms),
      "",
      gb(t.peakRssBytes),
      pct(t.otherLoad),
    ]);
  }
  return [s.title, "", table(rows)].join("\n");
}

function summary(sections: Section[]): string {
  const rows = [["", "best reca path", "ms", "PyTorch ms", "reca / PyTorch", "target", "verdict"]];
  for (const s of sections) {
    const b = best(s);
    const t = isFailure(s.torch) ? null : s.torch.ms;
    const r = b && t ? b.ms / t : null;
    const target = TARGETS[s.key];
    let verdict = "–";
    if (r !== null && target !== undefined)
      verdict =
        r <= target ? "met" : `missed by ${fix(r / target, 2)}× (${int(b!.ms - target * t!)} ms)`;
    rows.push([
      s.key,
      b?.label ?? "none ran",
      b ? int(b.ms) : "–",
      t ? int(t) : "–",
      r !== null ? `${fix(r, 2)}×` : "–",
      target !== undefined ? `≤ ${target}×` : "",
      verdict,
    ]);
  }
  return ["Summary (lower is better)", "", table(rows)].join("\n");
}

export type MatmulReport = {
  reca1?: Outcome<MatmulResult>;
  recaAll?: Outcome<MatmulResult>;
  torch1?: Outcome<TorchMatmul>;
  torchAll?: Outcome<TorchMatmul>;
};

function matmulTable(m: MatmulReport, sizes: number[], cpus: number): string {
  const col = (r: Outcome<MatmulResult | TorchMatmul> | undefined, n: number) =>
    r === undefined ? "–" : isFailure(r) ? "failed" : fix(r.gflops[n]);
  const head = (r: Outcome<MatmulResult | TorchMatmul> | undefined, who: string, dflt: string) =>
    `${who} ${r && !isFailure(r) ? r.threads : dflt} thr`;
  const rows = [
    [
      "n",
      head(m.reca1, "jax-js", "1"),
      head(m.recaAll, "jax-js", String(cpus)),
      head(m.torch1, "PyTorch", "1"),
      head(m.torchAll, "PyTorch", String(cpus)),
    ],
  ];
  for (const n of sizes)
    rows.push([
      String(n),
      col(m.reca1, n),
      col(m.recaAll, n),
      col(m.torch1, n),
      col(m.torchAll, n),
    ]);
  const errs = Object.entries(m).flatMap(([k, r]) =>
    isFailure(r) ? [`matmul ${k}: ${r.error}`] : [],
  );
  return [
    "Square f32 matmul, GFLOP/s (jax-js jitted, timed to completion)",
    "",
    table(rows),
    ...errs,
  ].join("\n");
}

export function report(o: {
  machine: ReturnType<typeof machineInfo>;
  torch: { version: string | null; threads: number | null; error: string | null; skipped: boolean };
  idle: { before: number | null; after: number | null };
  sections: Section[];
  matmul: MatmulReport | null;
  matmulSizes: number[];
}): string {
  const m = o.machine;
  const commit = m.gitCommit
    ? `${m.gitCommit.slice(0, 10)}${m.gitDirty ? " (dirty)" : ""}`
    : "unknown";
  const busy = (o.idle.before ?? 0) > 0.1 || (o.idle.after ?? 0) > 0.1;
  const out = [
    `reca bench  ${m.date}`,
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${gb(m.memoryBytes)}, ${m.platform}`,
    `node ${m.node}, @jax-js/jax ${m.jaxJs ?? "?"}, commit ${commit}`,
    `PyTorch: ${o.torch.skipped ? "skipped (--no-torch)" : (o.torch.error ?? `${o.torch.version} (${o.torch.threads} threads, ${torchPython()})`)}`,
    `other processes' CPU use while idle: ${pct(o.idle.before)} before, ${pct(o.idle.after)} after${busy ? "  ⚠ busy machine: timings are inflated" : ""}`,
    "",
  ];
  const notes: string[] = [];
  for (const s of o.sections) out.push(sectionTable(s, notes), "");
  if (o.sections.length > 0) {
    const loads = o.sections.flatMap((s) =>
      [...s.paths.map((p) => p.result), s.torch].map((r) =>
        isFailure(r) ? 0 : (r.otherLoad ?? 0),
      ),
    );
    out.push(
      "ms: median of the timed calls after the first call and the warm-up. Train step = forward +",
      "backward + global-norm clip + AdamW. other load: share of all CPUs that other processes",
      "used meanwhile; above ~10% it inflates timings.",
      ...notes,
      "",
      summary(o.sections),
      "",
    );
    if (Math.max(...loads) > 0.1)
      out.push(
        `⚠ other processes used up to ${pct(Math.max(...loads))} of the CPUs: the ratios are unreliable.`,
        "",
      );
  }
  if (o.matmul) out.push(matmulTable(o.matmul, o.matmulSizes, m.cpus), "");
  return out.join("\n");
}
