/**
 * `reca tokenizer eval --model DIR`: PSNR, the judge's GenEval score on reconstructions vs
 * originals, and (VQ) codebook usage of a trained generation tokenizer. Also the shared body of
 * `reca train vae|vq` (src/cli/train/vae.ts, vq.ts). Heavy imports live inside the handlers.
 */
import type { Command } from "commander";
import type { z } from "zod";
import { UserError } from "../util/config.ts";
import { intOption, type TrainCliOptions } from "./options.ts";

type EvalOptions = {
  model: string;
  json?: string;
  n: number;
  items?: number;
  perItem: number;
  judge: string;
  batch: number;
};

export function register(program: Command): void {
  const tokenizer = program
    .command("tokenizer")
    .description("generation tokenizers (KL-VAE, VQ-VAE): evaluate a trained one");
  tokenizer
    .command("eval")
    .description(
      "held-out PSNR, judge GenEval score on reconstructions vs originals, VQ codebook usage",
    )
    .requiredOption("--model <dir>", "tokenizer checkpoint (e.g. checkpoints/vae)")
    .option("--json <file>", "write the result as JSON")
    .option("--n <n>", "held-out renders for PSNR / usage", intOption("n", 1, 2000), 500)
    .option(
      "--items <n>",
      "only the first n GenEval items (default: all)",
      intOption("items", 1, 1e6),
    )
    .option(
      "--per-item <n>",
      "ground-truth renders per GenEval item",
      intOption("per-item", 1, 64),
      4,
    )
    .option("--judge <dir>", "judge checkpoint folder", "checkpoints/judge")
    .option("--batch <n>", "images per detector call", intOption("batch", 1, 4096), 64)
    .action(async (o: EvalOptions) => {
      await runEval(o);
    });
}

async function runEval(o: EvalOptions): Promise<void> {
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  if (!existsSync(join(o.judge, "model.safetensors")))
    throw new UserError(`judge checkpoint missing: ${join(o.judge, "model.safetensors")}`);
  const { loadTokenizer } = await import("../encoders/tokenizer.ts");
  const { evaluateTokenizer } = await import("../bench/tokenizer-eval.ts");
  const { loadJudge } = await import("../bench/judge/index.ts");
  const { createProgress } = await import("../train/progress.ts");
  const { writeJsonResult } = await import("../util/config.ts");
  const tok = await loadTokenizer(o.model).catch((e: Error) => {
    if (e.name === "TokenizerConfigError") throw new UserError(e.message);
    throw e;
  });
  const detector = await loadJudge(o.judge);
  let bar: ReturnType<typeof createProgress> | null = null;
  let label = "";
  try {
    const r = await evaluateTokenizer(tok, {
      n: o.n,
      items: o.items,
      perItem: o.perItem,
      detector,
      batch: o.batch,
      onProgress: (what, done, total) => {
        if (what !== label) {
          bar?.stop();
          label = what;
          bar = createProgress({ label: what, total, unit: "images" });
        }
        bar?.update(done);
      },
    });
    (bar as ReturnType<typeof createProgress> | null)?.stop();
    const result = { model: o.model, judge: o.judge, ...r };
    if (o.json) writeJsonResult(o.json, result);
    const g = r.geneval;
    let line =
      `${r.kind} ${o.model}: held-out PSNR ${r.psnr.heldOut.toFixed(2)} dB (${r.psnr.images} images); ` +
      `geneval (judge) originals ${g.original.toFixed(4)}, reconstructions ${g.reconstructed.toFixed(4)}, ` +
      `ratio ${g.ratio.toFixed(3)} (${g.images} images, PSNR ${g.psnr.toFixed(2)} dB)`;
    if (r.codebook)
      line += `; codebook ${r.codebook.used}/${r.codebook.size} used (${(100 * r.codebook.usedFraction).toFixed(1)}%), perplexity ${r.codebook.perplexity.toFixed(1)}`;
    process.stdout.write(`${line} [${(r.timings.totalMs / 1000).toFixed(1)} s]\n`);
  } finally {
    tok.dispose();
  }
}

/** `reca train vae|vq`: load/validate the config, apply overrides, train, report. */
export async function runTokenizerTraining<S extends z.ZodType>(
  schema: S,
  o: TrainCliOptions,
): Promise<void> {
  const { loadConfig, validateConfig, writeJsonResult } = await import("../util/config.ts");
  const cfg = (
    o.config ? loadConfig(schema, o.config) : validateConfig(schema, {}, "defaults")
  ) as import("../encoders/tokenizer.ts").TokenizerConfig;
  if (o.steps !== undefined) cfg.train.steps = o.steps;
  if (o.seed !== undefined) cfg.train.seed = o.seed;
  // The latent statistics are measured after training; a config carrying old ones is stale.
  if (cfg.kind === "vae") delete cfg.latent;
  const { trainTokenizer } = await import("../encoders/tokenizer-train.ts");
  const { benchmarkExclusion } = await import("../bench/exclusion.ts");
  const r = await trainTokenizer(cfg, {
    outDir: o.out,
    resume: o.resume,
    force: o.force,
    parallelism: o.parallel,
    exclude: benchmarkExclusion(cfg.data.numCategories),
  });
  if (o.json) writeJsonResult(o.json, r);
  if (r.run.status !== "done") {
    process.stderr.write(`${r.run.message ?? r.run.status}\n`);
    process.exitCode = 1;
    return;
  }
  const ev = r.eval;
  process.stdout.write(
    `trained ${cfg.kind} ${r.run.step} steps in ${r.run.wallSeconds.toFixed(0)} s ` +
      `(loss ${r.run.lastLoss.toFixed(5)}, ${r.run.samplesPerSecond.toFixed(1)} img/s)` +
      (ev ? `; held-out PSNR ${ev.psnr.toFixed(2)} dB on ${ev.images} images` : "") +
      (ev?.usedFraction !== undefined
        ? `; codebook ${ev.used} used (${(100 * ev.usedFraction).toFixed(1)}%), perplexity ${ev.perplexity!.toFixed(1)}`
        : "") +
      (r.latent
        ? `; latent shift ${r.latent.shift.toFixed(4)}, scale ${r.latent.scale.toFixed(4)}`
        : "") +
      `\nwrote ${o.out}\n`,
  );
}
