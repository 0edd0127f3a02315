/**
 * The budget goal (issue 6, a benchmark, never a test): within the demo's ≤ 10-minute RecA
 * budget on 2 cores, does RecA move GenEval overall by a margin well outside seed noise?
 *
 * Runs `reca demo` (src/demo/run.ts, the same code as `npx reca demo`) once per seed — the seed
 * is RecA's data seed and the sampling seed of both evaluations, so each seed gives a paired
 * before/after — and summarises: base and RecA GenEval overall (mean ± std over seeds: the base
 * spread is pure sampling noise), the paired gain (mean ± std), the gain in units of the
 * larger of the two noise estimates, und before/after, and GenEval points per CPU-minute of
 * RecA. Seeds already in `<out>/seed-<s>/demo.json` are read back, not rerun.
 *
 *   npx tsx bench/budget-goal.ts [--from checkpoints/base-flow] [--out runs/budget-goal]
 *     [--seeds 0,1,2] [--budget-min 10] [--json FILE]
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type DemoResult, runDemo } from "../src/demo/run.ts";
import { meanStd } from "../src/experiment/table.ts";
import { PostTrainConfigSchema } from "../src/train/reca.ts";
import { loadConfig } from "../src/util/config.ts";
import { atomicWriteFile } from "../src/util/fsutil.ts";
import { provenance } from "../src/util/provenance.ts";
import { benchArgs } from "./util.ts";

const HELP = `Usage: npx tsx bench/budget-goal.ts [options]

RecA's gain within the demo budget, over seeds (paired before/after per seed).

Options:
  --from DIR        base model (default checkpoints/base-flow)
  --out DIR         one demo folder per seed under DIR (default runs/budget-goal)
  --seeds LIST      comma-separated seeds (default 0,1,2)
  --budget-min N    RecA budget in minutes, calibration included (default 10)
  --config FILE     post-training config (default configs/reca.json)
  --json FILE       also write the summary as JSON
  -h, --help        this text
`;

const values = benchArgs(
  {
    from: { type: "string", default: "checkpoints/base-flow" },
    out: { type: "string", default: "runs/budget-goal" },
    seeds: { type: "string", default: "0,1,2" },
    "budget-min": { type: "string", default: "10" },
    config: { type: "string", default: "configs/reca.json" },
    json: { type: "string" },
  },
  HELP,
);
const seeds = values.seeds.split(",").map(Number);
const budget = Number(values["budget-min"]);
if (seeds.some((s) => !Number.isInteger(s) || s < 0) || !(budget > 0)) {
  process.stderr.write(`bad --seeds or --budget-min\n${HELP}`);
  process.exit(2);
}

const postTrain = loadConfig(PostTrainConfigSchema, values.config);
const runs: { seed: number; result: DemoResult }[] = [];
for (const seed of seeds) {
  const out = join(values.out, `seed-${seed}`);
  const json = join(out, "demo.json");
  if (existsSync(json)) {
    process.stderr.write(`seed ${seed}: read back ${json}\n`);
    runs.push({ seed, result: JSON.parse(readFileSync(json, "utf8")) as DemoResult });
    continue;
  }
  process.stderr.write(`seed ${seed}: reca demo → ${out}\n`);
  const r = await runDemo({
    from: values.from,
    out,
    seed,
    budgetMinutes: budget,
    postTrain,
    resume: existsSync(join(out, "reca")),
  });
  runs.push({ seed, result: r.result });
}

const ge = (side: "before" | "after") => runs.map((r) => r.result[side].geneval.overall);
const und = (side: "before" | "after") => runs.map((r) => r.result[side].und.overall);
const gains = runs.map((r) => r.result.after.geneval.overall - r.result.before.geneval.overall);
// Measured process CPU time where the demo recorded it; older runs: loop wall × threads.
const cpuMinutes = runs.map(
  (r) =>
    r.result.after.reca.cpuMinutes ?? r.result.after.reca.loopMinutes * r.result.after.reca.threads,
);
const before = meanStd(ge("before"));
const after = meanStd(ge("after"));
const gain = meanStd(gains);
const noise = Math.max(
  before?.std ?? Number.NaN,
  after?.std ?? Number.NaN,
  gain?.std ?? Number.NaN,
);
const cpu = meanStd(cpuMinutes);
const summary = {
  from: values.from,
  budgetMinutes: budget,
  seeds,
  perSeed: runs.map((r, i) => ({
    seed: r.seed,
    before: r.result.before.geneval.overall,
    after: r.result.after.geneval.overall,
    gain: gains[i],
    undBefore: r.result.before.und.overall,
    undAfter: r.result.after.und.overall,
    recaSteps: r.result.after.reca.steps,
    recaCpuMinutes: cpuMinutes[i],
  })),
  geneval: { before, after, gain },
  und: { before: meanStd(und("before")), after: meanStd(und("after")) },
  /** Gain over the largest seed spread (base, RecA, or the paired gain); NaN with one seed. */
  gainOverNoise: gain ? gain.mean / noise : null,
  pointsPerCpuMinute: gain && cpu ? (100 * gain.mean) / cpu.mean : null,
  recaCpuMinutes: cpu,
  provenance: provenance(),
};
const f = (c: ReturnType<typeof meanStd>, d = 3) =>
  c ? `${c.mean.toFixed(d)}${c.n > 1 ? ` ± ${c.std.toFixed(d)}` : ""}` : "–";
process.stdout.write(
  `GenEval overall over ${seeds.length} seed(s): base ${f(before)}, RecA ${f(after)}, ` +
    `gain ${f(gain)} (${summary.gainOverNoise?.toFixed(1) ?? "–"}× the largest seed std)\n` +
    `und: base ${f(summary.und.before)}, RecA ${f(summary.und.after)}\n` +
    `RecA cost ${f(cpu, 1)} CPU-min → ${summary.pointsPerCpuMinute?.toFixed(2) ?? "–"} ` +
    "GenEval points per CPU-minute\n",
);
if (values.json) atomicWriteFile(values.json, `${JSON.stringify(summary, null, 2)}\n`);
