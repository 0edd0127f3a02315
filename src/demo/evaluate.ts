/**
 * One model's side of the demo: GenEval and und through `evalModel` (GenEval's images and the
 * judge's verdicts kept for the report), then the gap probe — the same items and seeds for any
 * model, so base and RecA compare image for image.
 */
import { type EvalOptions, evalModel } from "../bench/eval.ts";
import { type GapResult, gapProbe, gapProgressBars } from "../bench/gap.ts";
import type { GenevalMetadata } from "../bench/geneval/templates.ts";
import type { Detector } from "../bench/judge/types.ts";
import { createProgress } from "../train/progress.ts";
import { loadUmm } from "../umm/infer.ts";
import type { ReportShot } from "./report.ts";
import type { DemoModelResult } from "./run.ts";

export type EvalContext = {
  seed: number;
  numCategories: number;
  /** GenEval images per prompt. */
  perItem: number;
  limit?: number;
  gapSamples: number;
  chunk?: number;
  sampleSteps?: number;
  quiet?: boolean;
};

export type Evaluated = DemoModelResult & {
  /** GenEval prompts in item order, and per prompt its samples with verdicts. */
  prompts: { prompt: string; tag: string }[];
  shots: ReportShot[][];
  gapFull: GapResult;
};

/** GenEval + und (keeping GenEval's images and verdicts) and the gap probe, for one model. */
export async function evaluate(
  dir: string,
  label: string,
  detect: Detector,
  o: EvalContext,
): Promise<Evaluated> {
  const model = loadUmm(dir);
  const bar = (name: string, total: number, unit: string) => {
    const p = createProgress({ label: `${label} ${name}`, total, unit });
    return { update: (done: number) => p.update(done), stop: () => p.stop() };
  };
  const progress: EvalOptions["progress"] = o.quiet ? undefined : bar;
  try {
    let prompts: Evaluated["prompts"] = [];
    let shots: ReportShot[][] = [];
    const r = await evalModel(model, detect, {
      suites: ["geneval", "und"],
      numCategories: o.numCategories,
      limit: o.limit,
      perItem: o.perItem,
      sampling: { seed: o.seed, chunk: o.chunk, steps: o.sampleSteps },
      progress,
      onScored: (name, images) => {
        if (name !== "geneval") return;
        const n = Math.max(-1, ...images.map((x) => x.item)) + 1;
        prompts = Array.from({ length: n }, () => ({ prompt: "", tag: "" }));
        shots = Array.from({ length: n }, () => []);
        for (const x of images) {
          const meta = x.meta as GenevalMetadata;
          const res = x.result as { correct: boolean; reason?: string };
          prompts[x.item] = { prompt: meta.prompt, tag: meta.tag };
          shots[x.item][x.sample] = {
            image: x.image,
            correct: res.correct,
            reason: res.reason ?? "",
          };
        }
      },
    });
    const bars = o.quiet ? undefined : gapProgressBars(bar);
    const gap = await gapProbe(model, detect, {
      numCategories: o.numCategories,
      samples: o.gapSamples,
      seed: o.seed,
      steps: o.sampleSteps,
      chunk: o.chunk,
      onProgress: bars?.onProgress,
    }).finally(() => bars?.stop());
    return {
      geneval: r.geneval!,
      und: r.und!,
      gap: { samples: gap.samples, seed: gap.seed, summary: gap.summary },
      prompts,
      shots,
      gapFull: gap,
    };
  } finally {
    model.dispose();
  }
}
