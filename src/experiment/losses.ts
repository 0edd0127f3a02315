/**
 * The training-loss curves of an experiment's stages: every distinct stage folder of the chosen
 * rows × seeds once (a stage shared by several rows, like sft-reca's SFT stage, is listed with
 * all of them), read from its metrics.jsonl. `reca experiment losses` prints their summary and
 * draws them (src/train/loss-curve.ts); nothing is written to the experiment folder.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type LossPoint,
  type LossSummary,
  readLossCurve,
  summarizeLoss,
} from "../train/loss-curve.ts";
import type { ExperimentRow } from "./plan.ts";
import { stageChain } from "./run.ts";

export type StageLoss = {
  /** Row names whose chain includes this stage. */
  rows: string[];
  label: string;
  stage: string;
  seed: number;
  dir: string;
  /** Whether the stage has a metrics file (a stage not started has none). */
  started: boolean;
  points: LossPoint[];
  summary: LossSummary | null;
};

export function experimentLosses(o: {
  from: string;
  out: string;
  rows: readonly ExperimentRow[];
  seeds: readonly number[];
  steps?: number;
  /** A named part of the loss instead of the total (readLossCurve). */
  part?: string;
}): StageLoss[] {
  const byDir = new Map<string, StageLoss>();
  for (const seed of o.seeds)
    for (const row of o.rows) {
      const chain = stageChain(o, row, seed);
      for (const { name, dir } of chain) {
        const seen = byDir.get(dir);
        if (seen) {
          if (!seen.rows.includes(row.name)) seen.rows.push(row.name);
          continue;
        }
        const label =
          (chain.length > 1 ? `${row.label}, ${name} stage` : row.label) +
          (o.seeds.length > 1 ? ` (seed ${seed})` : "");
        // A stage not started has no metrics file: an empty curve. A corrupt file is an error.
        const metrics = join(dir, "metrics.jsonl");
        const started = existsSync(metrics);
        const points = started ? readLossCurve(metrics, o.part) : [];
        byDir.set(dir, {
          rows: [row.name],
          label,
          stage: name,
          seed,
          dir,
          started,
          points,
          summary: summarizeLoss(points),
        });
      }
    }
  return [...byDir.values()];
}

/**
 * One Markdown line per stage: where its loss (or the loss `part`) started, settled and bottomed
 * out.
 */
export function formatLossTable(stages: readonly StageLoss[], part?: string): string {
  const missing = (s: StageLoss) =>
    !s.started ? "not started" : part === undefined ? "no steps" : `no "${part}" logged`;
  const f = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(3));
  return [
    "| stage | rows | steps | step 1 | first 10% | last 25% | min |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...stages.map((s) => {
      const m = s.summary;
      return `| ${s.label} | ${s.rows.join(", ")} | ${m ? m.steps : missing(s)} | ${f(m?.first)} | ${f(m?.early)} | ${f(m?.late)} | ${f(m?.min)} |`;
    }),
  ].join("\n");
}
