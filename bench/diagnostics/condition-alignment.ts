/**
 * Is the generator's condition space shared between text and image features? For each model,
 * conditionAlignment (src/train/heldout.ts): how often a held-out image's RecA condition
 * (template + understanding features) pools nearest its own complete caption among its batch.
 *
 *   npx tsx bench/diagnostics/condition-alignment.ts --models A,B,... [--batches 12] [--json FILE]
 */
import { benchmarkExclusion } from "../../src/bench/exclusion.ts";
import { type ConditionAlignment, conditionAlignment } from "../../src/train/heldout.ts";
import { readUmmConfig } from "../../src/umm/config-file.ts";
import { atomicWriteFile } from "../../src/util/fsutil.ts";
import { provenance } from "../../src/util/provenance.ts";
import { benchArgs, modelDirsOrExit } from "../util.ts";

const HELP = `Usage: npx tsx bench/diagnostics/condition-alignment.ts --models A,B,... [options]

Text↔feature alignment of each model's generation condition on held-out images: top-1 retrieval
of an image's own complete caption from its (template + features) condition, among 16.

Options:
  --models LIST   comma-separated checkpoint directories
  --batches N     batches of 16 images (default 12)
  --json FILE     also write the results as JSON
  -h, --help      this text
`;
const values = benchArgs(
  {
    models: { type: "string" },
    batches: { type: "string", default: "12" },
    json: { type: "string" },
  },
  HELP,
);
const models = modelDirsOrExit(values.models, HELP);
const batches = Number(values.batches);
if (!Number.isInteger(batches) || batches < 1) {
  process.stderr.write(`need --batches ≥ 1\n${HELP}`);
  process.exit(2);
}
const exclude = benchmarkExclusion(readUmmConfig(models[0]).data.numCategories);
const rows: ({ model: string } & ConditionAlignment)[] = [];
const skipped: { model: string; reason: string }[] = [];
for (const m of models) {
  // A model the probe cannot read (VAE-latent conditions) is reported and skipped, not fatal:
  // the other models' minutes of work are kept.
  try {
    rows.push({ model: m, ...(await conditionAlignment(m, { batches, exclude })) });
  } catch (e) {
    skipped.push({ model: m, reason: (e as Error).message });
    process.stderr.write(`${m}: skipped (${(e as Error).message})\n`);
  }
}
const se = (p: number, n: number) => Math.sqrt((p * (1 - p)) / n);
const cell = (a: { top1: number; matched: number }, n: number) =>
  `${a.top1.toFixed(3)} ± ${se(a.top1, n).toFixed(3)} (cos ${a.matched.toFixed(3)})`;
process.stdout.write(
  `Top-1 retrieval of an image's complete caption among ${rows[0]?.batch ?? 16} (chance ` +
    `${(rows[0]?.chance ?? 1 / 16).toFixed(3)}); in brackets the matched centred cosine\n\n` +
    "| model | RecA condition | feature slots only | sparse caption | complete, rephrased (control) |\n" +
    "| --- | --- | --- | --- | --- |\n" +
    rows
      .map(
        (r) =>
          `| ${r.model} | ${cell(r.features, r.n)} | ${cell(r.featureSlots, r.n)} | ${cell(r.sparseCaption, r.n)} | ${cell(r.rephrased, r.n)} |`,
      )
      .join("\n") +
    "\n" +
    skipped.map((x) => `skipped ${x.model}: ${x.reason}\n`).join(""),
);
if (values.json)
  atomicWriteFile(
    values.json,
    `${JSON.stringify({ rows, skipped, provenance: provenance() }, null, 1)}\n`,
  );
