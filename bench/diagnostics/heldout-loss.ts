/**
 * Held-out losses (src/train/heldout.ts) of several models, each paired against the first: the
 * validation signal post-training hyperparameters are chosen on (never the benchmark suites).
 * Results of a model already in the cache folder are read back, not recomputed.
 *
 *   npx tsx bench/diagnostics/heldout-loss.ts --models checkpoints/base-flow,runs/x/reca
 *     [--batches 16] [--cache runs/heldout] [--json FILE]
 */
import { benchmarkExclusion } from "../../src/bench/exclusion.ts";
import {
  HELDOUT_KINDS,
  type HeldoutResult,
  heldoutLosses,
  pairedDifference,
  promptGain,
} from "../../src/train/heldout.ts";
import { readUmmConfig } from "../../src/umm/config-file.ts";
import { atomicWriteFile } from "../../src/util/fsutil.ts";
import { provenance } from "../../src/util/provenance.ts";
import { benchArgs, cachedForModel, modelDirsOrExit } from "../util.ts";

const HELP = `Usage: npx tsx bench/diagnostics/heldout-loss.ts --models A,B,... [options]

Held-out losses (t2i-null, t2i-sparse, t2i-complete, recon, i2t) and the prompt gain
(t2i-null − t2i-complete) of each model, and each model's paired
difference from the first (same rows, same noise), with its standard error over batches.

Options:
  --models LIST   comma-separated checkpoint directories; the first is the reference
  --batches N     batches of 16 rows per loss (default 16)
  --cache DIR     per-model results are kept here and read back (default runs/heldout)
  --json FILE     also write everything as JSON
  -h, --help      this text
`;

const values = benchArgs(
  {
    models: { type: "string" },
    batches: { type: "string", default: "16" },
    cache: { type: "string", default: "runs/heldout" },
    json: { type: "string" },
  },
  HELP,
);
const models = modelDirsOrExit(values.models, HELP);
const batches = Number(values.batches);
if (!Number.isInteger(batches) || batches < 2) {
  process.stderr.write(`need --batches ≥ 2\n${HELP}`);
  process.exit(2);
}

let exclusion: ReturnType<typeof benchmarkExclusion> | undefined;
const results: HeldoutResult[] = [];
for (const m of models)
  results.push(
    await cachedForModel(values.cache, m, `b${batches}`, async () => {
      exclusion ??= benchmarkExclusion(readUmmConfig(m).data.numCategories);
      const t0 = Date.now();
      const r = await heldoutLosses(m, {
        batches,
        exclude: exclusion,
        onBatch: (kind, done, total) => {
          if (done === total) process.stderr.write(`${m}: ${kind} done\n`);
        },
      });
      process.stderr.write(`${m}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
      return r;
    }),
  );

const ref = results[0];
const COLUMNS = [...HELDOUT_KINDS, "prompt-gain"] as const;
const get = (r: HeldoutResult, k: (typeof COLUMNS)[number]) =>
  k === "prompt-gain" ? promptGain(r) : r[k];
const rows = results.map((r) => {
  const row: Record<string, unknown> = { model: r.model };
  for (const k of COLUMNS) {
    const a = get(ref, k);
    const b = get(r, k);
    if (!a || !b) continue;
    row[k] = { mean: b.mean, vsReference: r === ref ? null : pairedDifference(a, b) };
  }
  return row;
});
const cell = (v: unknown) => {
  const c = v as { mean: number; vsReference: { mean: number; se: number } | null } | undefined;
  if (!c) return "–";
  const d = c.vsReference;
  return d
    ? `${c.mean.toFixed(4)} (${d.mean >= 0 ? "+" : ""}${d.mean.toFixed(4)} ± ${d.se.toFixed(4)})`
    : c.mean.toFixed(4);
};
const lines = [
  `| model | ${COLUMNS.join(" | ")} |`,
  `| --- | ${COLUMNS.map(() => "---").join(" | ")} |`,
  ...rows.map((r) => `| ${r.model} | ${COLUMNS.map((k) => cell(r[k])).join(" | ")} |`),
];
process.stdout.write(
  `Held-out losses, ${ref.rows} rows each (lower is better; prompt-gain = t2i-null − ` +
    `t2i-complete, higher is better); in brackets the paired ` +
    `difference from ${ref.model} ± its standard error\n\n${lines.join("\n")}\n`,
);
if (values.json)
  atomicWriteFile(values.json, `${JSON.stringify({ rows, provenance: provenance() }, null, 1)}\n`);
