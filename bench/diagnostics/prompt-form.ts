/**
 * Does naming a colour change whether a model draws the object at all? GenEval's single-object
 * prompts ("a photo of a cube") name no colour, while complete captions always do (pColor 1, the
 * sparse captions 0.25). A model post-trained on complete captions may have learned to draw an
 * object only when its colour is named. This scores each model on the same objects asked for in
 * two forms, both under GenEval's single-object rule (at least one of the class, colour ignored):
 *
 *   plain     "a photo of a cube"        × n images per category
 *   coloured  "a photo of a red cube"    × one image per (category, colour), n colours
 *
 * Same sampling seed for every model, so differences between models are paired.
 *
 *   npx tsx bench/diagnostics/prompt-form.ts --models A,B,... [--n 10] [--seed 0] [--json FILE]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { evalImageSuite, type ScoredOutput } from "../../src/bench/eval.ts";
import { type GenevalMetadata, withArticle } from "../../src/bench/geneval/index.ts";
import { loadJudgeDetector } from "../../src/cli/bench.ts";
import { progressFactory } from "../../src/cli/model-options.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { loadUmm, readUmmConfig } from "../../src/umm/infer.ts";
import { atomicWriteFile } from "../../src/util/fsutil.ts";
import { provenance } from "../../src/util/provenance.ts";
import { COLORS, worldCategories } from "../../src/world/vocab.ts";
import { benchArgs, modelDirsOrExit } from "../util.ts";

const HELP = `Usage: npx tsx bench/diagnostics/prompt-form.ts --models A,B,... [options]

Single objects asked for with and without a colour word, scored by GenEval's single-object rule
(the object is there; its colour is not checked), per model.

Options:
  --models LIST   comma-separated model checkpoint directories
  --n N           plain images per category, and colours per category (1–10, default 10)
  --seed S        sampling seed (default 0)
  --judge DIR     judge checkpoint (default checkpoints/judge)
  --json FILE     also write the results as JSON
  -h, --help      this text
`;
const values = benchArgs(
  {
    models: { type: "string" },
    n: { type: "string", default: "10" },
    seed: { type: "string", default: "0" },
    judge: { type: "string", default: "checkpoints/judge" },
    json: { type: "string" },
  },
  HELP,
);
const models = modelDirsOrExit(values.models, HELP);
const n = Number(values.n);
const seed = Number(values.seed);
if (!Number.isInteger(n) || n < 1 || n > COLORS.length || !Number.isInteger(seed)) {
  process.stderr.write(`need --n in 1–${COLORS.length} and an integer --seed\n${HELP}`);
  process.exit(2);
}

const numCategories = readUmmConfig(models[0]).data.numCategories;
const categories = worldCategories(numCategories);
const single = (c: string, prompt: string): GenevalMetadata => ({
  tag: "single_object",
  include: [{ class: c, count: 1 }],
  prompt,
});
const forms = {
  plain: categories.map((c) => single(c, `a photo of ${withArticle(c)}`)),
  coloured: categories.flatMap((c) =>
    COLORS.slice(0, n).map((col) => single(c, `a photo of ${withArticle(`${col} ${c}`)}`)),
  ),
};
const perItem = { plain: n, coloured: 1 };
const dir = mkdtempSync(join(tmpdir(), "reca-prompt-form-"));
const files = Object.fromEntries(
  Object.entries(forms).map(([form, metas]) => {
    const f = join(dir, `${form}.jsonl`);
    writeFileSync(f, metas.map((m) => `${JSON.stringify(m)}\n`).join(""));
    return [form, f];
  }),
) as Record<keyof typeof forms, string>;

// The commit this run starts at (the code that runs), not whatever HEAD is when it ends.
const started = provenance();
await initEngine();
const detect = await loadJudgeDetector(values.judge);
const progress = await progressFactory();
type Row = {
  model: string;
  form: keyof typeof forms;
  correct: number;
  images: number;
  perCategory: Record<string, { correct: number; images: number }>;
  seconds: number;
};
const rows: Row[] = [];
const t0 = performance.now();
try {
  for (const m of models) {
    const model = loadUmm(m);
    try {
      for (const form of Object.keys(forms) as (keyof typeof forms)[]) {
        let scored: ScoredOutput[] = [];
        const r = await evalImageSuite(model, detect, "geneval", {
          numCategories,
          prompts: files[form],
          perItem: perItem[form],
          sampling: { seed },
          progress,
          onScored: (_name, s) => {
            scored = s;
          },
        });
        const perCategory: Row["perCategory"] = {};
        for (const s of scored) {
          const c = (s.meta as GenevalMetadata).include[0].class;
          const cell = perCategory[c] ?? { correct: 0, images: 0 };
          perCategory[c] = cell;
          cell.images++;
          if ((s.result as { correct: boolean }).correct) cell.correct++;
        }
        const correct = scored.filter((s) => (s.result as { correct: boolean }).correct).length;
        rows.push({
          model: m,
          form,
          correct,
          images: scored.length,
          perCategory,
          seconds: r.seconds,
        });
        process.stderr.write(`${m} ${form}: ${correct}/${scored.length}\n`);
      }
    } finally {
      model.dispose();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const pct = (c: number, t: number) => `${c}/${t} (${((100 * c) / t).toFixed(0)}%)`;
const lines = [
  `Single objects by prompt form (GenEval single-object rule; sampling seed ${seed}; ` +
    `${((performance.now() - t0) / 60000).toFixed(1)} min)`,
  "",
  `| model | plain | coloured | ${categories.map((c) => `${c} plain / coloured`).join(" | ")} |`,
  `| --- | ---: | ---: | ${categories.map(() => "---:").join(" | ")} |`,
];
for (const m of models) {
  const p = rows.find((r) => r.model === m && r.form === "plain")!;
  const q = rows.find((r) => r.model === m && r.form === "coloured")!;
  const cat = (r: Row, c: string) => `${r.perCategory[c]?.correct ?? 0}`;
  lines.push(
    `| ${m} | ${pct(p.correct, p.images)} | ${pct(q.correct, q.images)} | ` +
      `${categories.map((c) => `${cat(p, c)} / ${cat(q, c)}`).join(" | ")} |`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
if (values.json)
  atomicWriteFile(
    values.json,
    `${JSON.stringify({ n, seed, rows, provenance: started }, null, 1)}\n`,
  );
