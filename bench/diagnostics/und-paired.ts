/**
 * Understanding of several models on the same und questions, each paired question by question
 * with the first (src/bench/und/index.ts `undPairedDelta`): accuracy per type, the change in
 * points, how many questions each model lost and gained against the reference, and the standard
 * error of the change over questions (McNemar's paired form). The rule is that
 * post-training must not cost understanding more than 1 point; on the default 256 questions one
 * comparison's SE is about 1 point, so `--full` (2,000 questions) is how to tell a 1-point drop
 * from the draw of questions. Answers are greedy, so a model's outcomes are deterministic; the
 * default set reproduces the `und` figures of `reca eval` and `reca experiment` exactly.
 *
 *   npx tsx bench/diagnostics/und-paired.ts --models checkpoints/base-flow,DIR,... [--full]
 *     [--cache runs/und-paired] [--json FILE]
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { evalUnd, type UndResult } from "../../src/bench/eval.ts";
import { undPairedDelta, VQA_TYPES } from "../../src/bench/und/index.ts";
import { progressFactory } from "../../src/cli/model-options.ts";
import { atomicWriteFile } from "../../src/engine/fsutil.ts";
import { loadUmm, readUmmConfig } from "../../src/umm/infer.ts";
import { provenance } from "../../src/util/provenance.ts";
import { benchArgs, modelDirsOrExit } from "../util.ts";

const HELP = `Usage: npx tsx bench/diagnostics/und-paired.ts --models A,B,... [options]

Und accuracy of each model on the same questions, and each model's change from the first,
paired question by question: Δ points ± its standard error over questions, and how many
questions were lost and gained.

Options:
  --models LIST   comma-separated checkpoint directories; the first is the reference
  --full          the full set (500 scenes, 2,000 questions) instead of the default 256
  --cache DIR     per-model outcomes are kept here and read back (default runs/und-paired)
  --json FILE     also write everything as JSON
  -h, --help      this text
`;

const values = benchArgs(
  {
    models: { type: "string" },
    full: { type: "boolean", default: false },
    cache: { type: "string", default: "runs/und-paired" },
    json: { type: "string" },
  },
  HELP,
);
const models = modelDirsOrExit(values.models, HELP);
const set = values.full ? "full" : "default";

mkdirSync(values.cache, { recursive: true });
const results: { model: string; und: UndResult }[] = [];
for (const m of models) {
  const file = join(values.cache, `${resolve(m).replaceAll("/", "_")}.${set}.json`);
  if (existsSync(file)) {
    results.push({ model: m, und: JSON.parse(readFileSync(file, "utf8")) as UndResult });
    process.stderr.write(`${m}: read back ${file}\n`);
    continue;
  }
  const model = loadUmm(m);
  const und = await evalUnd(model, {
    full: values.full,
    numCategories: readUmmConfig(m).data.numCategories,
    progress: await progressFactory(),
  });
  process.stderr.write(
    `${m}: und ${(100 * und.overall).toFixed(1)} in ${und.seconds.toFixed(0)} s\n`,
  );
  atomicWriteFile(file, `${JSON.stringify(und)}\n`);
  results.push({ model: m, und });
}

const ref = results[0].und;
const rows = results.map(({ model, und }) => ({
  model,
  overall: 100 * und.overall,
  types: Object.fromEntries(VQA_TYPES.map((t) => [t, 100 * (und.types[t] ?? Number.NaN)])),
  vsReference: und === ref ? null : (undPairedDelta(ref, und) ?? null),
}));
const f1 = (x: number) => x.toFixed(1);
const lines = [
  `| model | und | ${VQA_TYPES.join(" | ")} | Δ vs first ± SE | lost | gained |`,
  `| --- | ---: | ${VQA_TYPES.map(() => "---:").join(" | ")} | ---: | ---: | ---: |`,
  ...rows.map((r) => {
    const d = r.vsReference;
    const delta = d ? `${d.delta >= 0 ? "+" : "−"}${f1(Math.abs(d.delta))} ± ${f1(d.se)}` : "–";
    return `| ${r.model} | ${f1(r.overall)} | ${VQA_TYPES.map((t) => f1(r.types[t])).join(" | ")} | ${delta} | ${d?.lost ?? "–"} | ${d?.gained ?? "–"} |`;
  }),
];
process.stdout.write(
  `Und (${set} set, ${ref.questions} questions, points); Δ paired with ${results[0].model}\n\n` +
    `${lines.join("\n")}\n`,
);
if (values.json)
  atomicWriteFile(
    values.json,
    `${JSON.stringify({ set, questions: ref.questions, rows, provenance: provenance() }, null, 1)}\n`,
  );
