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
  points: LossPoint[];
  summary: LossSummary | null;
};

export function experimentLosses(o: {
  from: string;
  out: string;
  rows: readonly ExperimentRow[];
  seeds: readonly number[];
  steps?: number;
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
        const points = existsSync(metrics) ? readLossCurve(metrics) : [];
        byDir.set(dir, {
          rows: [row.name],
          label,
          stage: name,
          seed,
          dir,
          points,
          summary: summarizeLoss(points),
        });
      }
    }
  return [...byDir.values()];
}

/** One Markdown line per stage: where its loss started, settled and bottomed out. */
export function formatLossTable(stages: readonly StageLoss[]): string {
  const f = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(3));
  return [
    "| stage | rows | steps | step 1 | first 10% | last 25% | min |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...stages.map((s) => {
      const m = s.summary;
      return `| ${s.label} | ${s.rows.join(", ")} | ${m ? m.steps : "not started"} | ${f(m?.first)} | ${f(m?.early)} | ${f(m?.late)} | ${f(m?.min)} |`;
    }),
  ].join("\n");
}
