/**
 * `reca probe encoder`: zero-shot retrieval and linear probes of a trained understanding
 * encoder's frozen bottleneck features (src/encoders/probe.ts says exactly what each number is).
 * `reca probe gap`: a unified model's recognition vs generation accuracy per (category, colour)
 * pair (src/bench/gap.ts), with heat maps.
 */
import type { Command } from "commander";
import { addModelOptions, addSamplingOptions, type ModelCliOptions } from "./model-options.ts";
import { intOption } from "./options.ts";

export function register(program: Command): void {
  const probe = program.command("probe").description("measure trained encoders and models");
  registerGap(probe);
  probe
    .command("encoder")
    .description(
      'print {"retrieval", "probe": {category, color, count, relation}} for an understanding encoder',
    )
    .option("--model <dir>", "encoder checkpoint", "checkpoints/encoder")
    .option(
      "--n <n>",
      "held-out scenes per probe (75% train / 25% test)",
      intOption("n", 8, 1e6),
      2000,
    )
    .option(
      "--resolution <r>",
      "bottleneck grid side to probe (1, 2, 4 or 8; default the encoder's)",
      intOption("resolution", 1, 8),
    )
    .option("--seed <s>", "held-out scene seed", intOption("seed", 0, 2 ** 32 - 1), 0)
    .option("--json <file>", "also write the result (with details) as JSON")
    .action(
      async (o: { model: string; n: number; resolution?: number; seed: number; json?: string }) => {
        const { UserError, writeJsonResult } = await import("../util/config.ts");
        if (o.resolution !== undefined && ![1, 2, 4, 8].includes(o.resolution))
          throw new UserError(`--resolution must be 1, 2, 4 or 8, got ${o.resolution}`);
        const { initEngine } = await import("../engine/jax.ts");
        const { loadUnderstandingEncoder } = await import("../encoders/understanding.ts");
        const { probeEncoder } = await import("../encoders/probe.ts");
        await initEngine();
        const enc = loadUnderstandingEncoder(o.model);
        try {
          const r = await probeEncoder(enc, {
            n: o.n,
            resolution: o.resolution,
            seed: o.seed,
            onProgress: (what) => process.stderr.write(`probe: ${what}…\n`),
          });
          const round = (x: number) => Math.round(x * 10000) / 10000;
          const summary = {
            retrieval: round(r.retrieval),
            probe: Object.fromEntries(Object.entries(r.probe).map(([k, v]) => [k, round(v)])),
          };
          process.stdout.write(`${JSON.stringify(summary)}\n`);
          process.stderr.write(
            `retrieval: top-1 image→caption among ${r.details.retrieval.candidates} held-out captions ` +
              `(own caption or same scene key; own caption only: ${round(r.details.retrieval.strictAccuracy)}), ` +
              `${r.details.retrieval.queries} queries; probes on ${r.details.resolution}×${r.details.resolution} ` +
              `bottleneck, ${r.details.scenes} scenes each; ${r.details.seconds.toFixed(0)} s\n`,
          );
          if (o.json) writeJsonResult(o.json, { model: o.model, ...summary, details: r.details });
        } finally {
          enc.dispose();
        }
      },
    );
}

type GapCliOptions = ModelCliOptions & {
  json?: string;
  out?: string;
  samples: number;
  seed: number;
  guidance?: number;
  cfg?: number;
  steps?: number;
  chunk?: number;
  judge: string;
};

function registerGap(probe: Command): void {
  const cmd = probe
    .command("gap")
    .description(
      "recognition vs generation accuracy of a unified model per (category, colour) pair, " +
        "dominant vs non-dominant colours, heat maps",
    )
    .option("--json <file>", "write the per-pair table and summary as JSON")
    .option("--out <dir>", "heat-map folder (default: next to --json, else ./gap)")
    .option("--samples <k>", "renders and samples per pair", intOption("samples", 1, 256), 4)
    .option("--judge <dir>", "judge checkpoint folder", "checkpoints/judge");
  addSamplingOptions(addModelOptions(cmd)).action(async (o: GapCliOptions) => {
    const { dirname, join } = await import("node:path");
    const { openModel, progressFactory, samplingOf, writePng } = await import("./model-options.ts");
    const { loadJudgeDetector } = await import("./bench.ts");
    const { formatGapTable, gapHeatmap, gapProbe, gapProgressBars } = await import(
      "../bench/gap.ts"
    );
    const { writeJsonResult } = await import("../util/config.ts");
    const out = o.out ?? (o.json ? dirname(o.json) : "gap");
    const detect = await loadJudgeDetector(o.judge);
    const model = await openModel(o);
    try {
      const progress = await progressFactory();
      const bars = gapProgressBars(progress);
      const t0 = performance.now();
      const r = await gapProbe(model, detect, {
        numCategories: model.config.data.numCategories,
        samples: o.samples,
        seed: o.seed,
        guidance: samplingOf(o).guidance,
        steps: o.steps,
        chunk: o.chunk,
        onProgress: bars.onProgress,
      }).finally(() => bars.stop());
      const files = (["recognition", "generation"] as const).map((which) => {
        const f = join(out, `${which}.png`);
        return { f, image: gapHeatmap(r, which) };
      });
      for (const { f, image } of files) await writePng(f, image, 2);
      if (o.json) writeJsonResult(o.json, { model: o.model, ...r });
      process.stdout.write(
        `${formatGapTable(r)}\nheat maps: ${files.map((x) => x.f).join(", ")} ` +
          `[${r.samples} per pair, seed ${r.seed}, ${((performance.now() - t0) / 1000).toFixed(1)} s]\n`,
      );
    } finally {
      model.dispose();
    }
  });
}
