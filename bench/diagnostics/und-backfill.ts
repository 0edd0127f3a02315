/**
 * Per-question und outcomes for experiment results evaluated before they were kept (02df6ad).
 * Und answers are greedy, so a model's outcomes on the default 256 questions do not depend on the
 * sampling seed or the run: this re-answers the questions with each such job's final model (or
 * reads them from the und-paired cache), checks that the recomputed score equals the recorded
 * one exactly — overall and per question type — and only then writes the outcome string into the
 * job's result.json, beside a note of when and by which commit it was added. A mismatch is
 * reported and nothing is written for that job. Without --write nothing is written at all.
 *
 *   npx tsx bench/diagnostics/und-backfill.ts --out results/paper [--cache DIR] [--write]
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { evalUnd, type UndResult } from "../../src/bench/eval.ts";
import { progressFactory } from "../../src/cli/model-options.ts";
import { loadUmm } from "../../src/umm/infer.ts";
import { atomicWriteFile } from "../../src/util/fsutil.ts";
import { provenance } from "../../src/util/provenance.ts";
import { benchArgs, cachedForModel } from "../util.ts";

const HELP = `Usage: npx tsx bench/diagnostics/und-backfill.ts --out DIR [options]

Adds per-question und outcomes to the experiment results in DIR that lack them, after checking
that the recomputed und score equals the recorded one exactly.

Options:
  --out DIR     experiment folder (rows/<row>/seed-<s>/result.json)
  --cache DIR   per-model outcomes are kept here and read back (default runs/und-paired)
  --write       write the outcomes (default: only report what would be written)
  -h, --help    this text
`;

const values = benchArgs(
  {
    out: { type: "string" },
    cache: { type: "string", default: "runs/und-paired" },
    write: { type: "boolean", default: false },
  },
  HELP,
);
if (!values.out || !existsSync(join(values.out, "rows"))) {
  process.stderr.write(`need --out: an experiment folder with rows/\n\n${HELP}`);
  process.exit(2);
}

type Result = {
  row: string;
  seed: number;
  from: string;
  stages: { dir: string }[];
  eval: { und?: UndResult & { correct?: string; correctAdded?: unknown } };
};

const rowsDir = join(values.out, "rows");
const files = readdirSync(rowsDir).flatMap((row) =>
  readdirSync(join(rowsDir, row))
    .filter((s) => /^seed-\d+$/.test(s))
    .map((s) => join(rowsDir, row, s, "result.json"))
    .filter((f) => existsSync(f)),
);
const prov = provenance();
let mismatches = 0;
let todo = 0;
for (const file of files.sort()) {
  const r = JSON.parse(readFileSync(file, "utf8")) as Result;
  const und = r.eval.und;
  if (!und || typeof und.correct === "string") continue;
  todo++;
  const model = r.stages.at(-1)?.dir ?? r.from;
  if (!existsSync(join(model, "config.json"))) {
    process.stderr.write(`${file}: its model ${model} is not here; skipped\n`);
    mismatches++;
    continue;
  }
  const again = await cachedForModel(values.cache!, model, "default", async () => {
    const m = loadUmm(model);
    return evalUnd(m, {
      numCategories: m.config.data.numCategories,
      progress: await progressFactory(),
    });
  });
  const same =
    again.overall === und.overall &&
    again.questions === und.questions &&
    again.set === und.set &&
    Object.entries(und.types).every(([t, v]) => (again.types as Record<string, number>)[t] === v);
  const label = `${r.row} seed ${r.seed} (${model})`;
  if (!same || typeof again.correct !== "string") {
    mismatches++;
    process.stdout.write(
      `${label}: recomputed und ${(100 * again.overall).toFixed(2)} (${again.set}) ≠ recorded ` +
        `${(100 * und.overall).toFixed(2)} (${und.set}); not written\n`,
    );
    continue;
  }
  process.stdout.write(
    `${label}: und ${(100 * und.overall).toFixed(2)} reproduced exactly; ${values.write ? "outcomes written" : "would write outcomes (--write)"}\n`,
  );
  if (values.write) {
    und.correct = again.correct;
    und.correctAdded = { at: new Date().toISOString(), commit: prov.commit, by: "und-backfill.ts" };
    atomicWriteFile(file, `${JSON.stringify(r, null, 2)}\n`);
  }
}
process.stdout.write(
  `${todo} result(s) lacked outcomes; ${todo - mismatches} ${values.write ? "filled" : "can be filled"}, ${mismatches} not\n`,
);
process.exit(mismatches > 0 ? 1 : 0);
