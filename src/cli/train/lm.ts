/**
 * `reca train lm`: the language-model stage (src/train/lm.ts) — the backbone pretrained as a
 * causal LM on the world's text, benchmark scenes excluded; the output is a unified-model
 * checkpoint whose generator and projector are still at init. At the end of a finished run the
 * held-out perplexity per kind of text is written to DIR/heldout.json.
 * `reca train lm-perplexity --model DIR` measures that for any unified model.
 */
import type { Command } from "commander";
import { addTrainOptions, intOption, type TrainCliOptions } from "../options.ts";

const DEFAULT_CONFIG = "configs/lm.json";

async function writePerplexity(
  dir: string,
  rows: number,
  file: string | undefined,
  numCategories: number,
): Promise<void> {
  const { benchmarkExclusion } = await import("../../bench/exclusion.ts");
  const { lmHeldout } = await import("../../train/lm.ts");
  const { atomicWriteFile } = await import("../../util/fsutil.ts");
  const { provenance } = await import("../../util/provenance.ts");
  const t0 = performance.now();
  const r = await lmHeldout(dir, { rows, exclude: benchmarkExclusion(numCategories) });
  const seconds = (performance.now() - t0) / 1000;
  const lines = Object.entries(r.kinds).map(
    ([k, v]) =>
      `  ${k.padEnd(9)} ppl ${v.perplexity.toFixed(2).padStart(7)} (${v.tokens} tokens)` +
      (v.continuation
        ? `  after <sep>: ${v.continuation.perplexity.toFixed(2)} (${v.continuation.tokens}), ` +
          `first token top-1 ${v.continuation.top1.toFixed(3)}` +
          (v.continuation.top1ByType
            ? ` (${Object.entries(v.continuation.top1ByType)
                .map(([t, x]) => `${t} ${(x as number).toFixed(2)}`)
                .join(", ")})`
            : "")
        : ""),
  );
  process.stdout.write(
    `held-out perplexity of ${dir} (${rows} rows per kind, ${seconds.toFixed(0)} s):\n${lines.join("\n")}\n`,
  );
  if (file)
    atomicWriteFile(
      file,
      `${JSON.stringify({ ...r, seconds, provenance: provenance() }, null, 1)}\n`,
    );
}

export function register(train: Command): void {
  addTrainOptions(
    train
      .command("lm")
      .description(
        "language model first: the backbone as a causal LM on the world's text (no images)",
      ),
    DEFAULT_CONFIG,
  )
    .option("--no-heldout", "skip the held-out perplexity at the end")
    .option(
      "--from <dir>",
      "continue the language model in DIR (its model block wins over the config's)",
    )
    .action(async (o: TrainCliOptions & { heldout: boolean; from?: string }) => {
      const { join } = await import("node:path");
      const { loadTrainConfig, writeJsonResult } = await import("../../util/config.ts");
      const { LmConfigSchema, trainLm } = await import("../../train/lm.ts");
      const { config: lc } = loadTrainConfig(LmConfigSchema, o, DEFAULT_CONFIG);
      const { benchmarkExclusion } = await import("../../bench/exclusion.ts");
      const { existsSync } = await import("node:fs");
      const { UserError } = await import("../../util/config.ts");
      if (o.from !== undefined && !existsSync(o.from))
        throw new UserError(`--from ${o.from} not found`);
      const { readUmmConfig } = await import("../../umm/config-file.ts");
      const nc = o.from ? readUmmConfig(o.from).data.numCategories : lc.model.data.numCategories;
      const exclude = benchmarkExclusion(nc);
      const r = await trainLm(lc, {
        outDir: o.out,
        resume: o.resume,
        force: o.force,
        parallelism: o.parallel,
        exclude,
        ...(o.from ? { from: o.from } : {}),
      });
      if (o.json) writeJsonResult(o.json, { ...r, exclusion: exclude.fingerprint() });
      if (r.status !== "done") {
        process.stderr.write(`${r.message ?? r.status}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `trained ${r.step} steps in ${r.wallSeconds.toFixed(0)} s (loss ${r.lastLoss.toFixed(4)}, ` +
          `${r.samplesPerSecond.toFixed(1)} rows/s, ${r.runner} × ${r.threads})\nwrote ${o.out}\n`,
      );
      if (o.heldout) await writePerplexity(o.out, 128, join(o.out, "heldout.json"), nc);
    });

  train
    .command("lm-perplexity")
    .description("held-out perplexity of a unified model's language model, per kind of text")
    .requiredOption("--model <dir>", "unified-model checkpoint directory")
    .option("--rows <n>", "rows per kind (default 128)", intOption("rows", 1, 100_000), 128)
    .option("--json <file>", "write the result as JSON")
    .action(async (o: { model: string; rows: number; json?: string }) => {
      const { readUmmConfig } = await import("../../umm/config-file.ts");
      const nc = readUmmConfig(o.model).data.numCategories;
      await writePerplexity(o.model, o.rows, o.json, nc);
    });
}
