/**
 * Understanding of several models on the same und questions, each paired question by question
 * with the first (src/bench/und/index.ts `undPairedDelta`): accuracy per type, the change in
 * points, how many questions each model lost and gained against the reference, and the standard
 * error of the change over questions (McNemar's paired form). The rule is that
 * post-training must not cost understanding more than 1 point; on the default 256 questions one
 * comparison's SE is about 2 points (RecA seed 2: −2.3 ± 2.3), so `--full` (2,000 questions, SE
 * about 0.9) is how to tell a 1-point drop from the draw of questions. Answers are greedy, so a model's outcomes are deterministic; the
 * default set reproduces the `und` figures of `reca eval` and `reca experiment` exactly.
 *
 *   npx tsx bench/diagnostics/und-paired.ts --models checkpoints/base-flow,DIR,... [--full]
 *     [--cache runs/und-paired] [--json FILE]
 */
import { evalUnd, type UndResult } from "../../src/bench/eval.ts";
import { undPairedDelta, VQA_TYPES } from "../../src/bench/und/index.ts";
import { progressFactory } from "../../src/cli/model-options.ts";
import { loadUmm } from "../../src/umm/infer.ts";
import { atomicWriteFile } from "../../src/util/fsutil.ts";
import { provenance } from "../../src/util/provenance.ts";
import { benchArgs, cachedForModel, modelDirsOrExit } from "../util.ts";

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

const results: { model: string; und: UndResult }[] = [];
for (const m of models) {
  const und = await cachedForModel(values.cache, m, set, async () => {
    const model = loadUmm(m);
    const r = await evalUnd(model, {
      full: values.full,
      numCategories: model.config.data.numCategories,
      progress: await progressFactory(),
    });
    process.stderr.write(
      `${m}: und ${(100 * r.overall).toFixed(1)} in ${r.seconds.toFixed(0)} s\n`,
    );
    return r;
  });
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
