/**
 * Does sampling on ONNX Runtime change what the judge sees? GenEval images from the same model,
 * prompts and seeds, sampled once on ORT and once on jax-js (the same Euler step, docs/ENGINE.md),
 * are scored by the judge; the verdicts (each image's GenEval correct/incorrect) must be the
 * same. Also reports how far the pixels moved. A diagnostic, not a test (minutes: the jax-js
 * half samples at ~0.3 images/s).
 *
 *   npx tsx bench/diagnostics/engine-verdicts.ts [--model checkpoints/base-flow] [--limit 16]
 *     [--seeds 0,1] [--json FILE]
 */
import { imageSuiteItems, suiteOutputs } from "../../src/bench/eval.ts";
import { type GenevalMetadata, scoreGenevalImage } from "../../src/bench/geneval/index.ts";
import { loadJudge } from "../../src/bench/judge/index.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { loadUmm } from "../../src/umm/infer.ts";
import { atomicWriteFile } from "../../src/util/fsutil.ts";
import type { RgbImage } from "../../src/world/render.ts";
import { benchArgs } from "../util.ts";

const HELP = `Usage: npx tsx bench/diagnostics/engine-verdicts.ts [options]

Samples GenEval images on ORT and on jax-js (same seeds) and compares the judge's verdicts.

Options:
  --model DIR    unified model (default checkpoints/base-flow)
  --limit N      GenEval prompts (default 16; 4 images each)
  --seeds LIST   sampling seeds (default 0,1)
  --json FILE    also write the numbers as JSON
  -h, --help     this text
`;

const values = benchArgs(
  {
    model: { type: "string", default: "checkpoints/base-flow" },
    limit: { type: "string", default: "16" },
    seeds: { type: "string", default: "0,1" },
    json: { type: "string" },
  },
  HELP,
);
const limit = Number(values.limit);
const seeds = (values.seeds ?? "0").split(",").map(Number);
if (!Number.isInteger(limit) || limit < 1 || seeds.some((s) => !Number.isInteger(s))) {
  process.stderr.write(`--limit must be a positive integer and --seeds integers\n\n${HELP}`);
  process.exit(2);
}

await initEngine();
const model = loadUmm(values.model ?? "checkpoints/base-flow");
const judge = await loadJudge();
const items = imageSuiteItems("geneval", {
  numCategories: model.config.data.numCategories,
  limit,
});
const metas = items.metas as GenevalMetadata[];

async function sampleOn(engine: "ort" | "jax", seed: number) {
  process.env.RECA_ENGINE = engine;
  const t = performance.now();
  const out = await suiteOutputs(model, "geneval", metas, items.perItem, { seed });
  const seconds = (performance.now() - t) / 1000;
  const images = out.samples.flat();
  const dets = await judge(images);
  const owner = metas.flatMap((m) => out.samples[metas.indexOf(m)].map(() => m));
  const verdicts = images.map((_, i) => scoreGenevalImage(owner[i], dets[i]).correct);
  return { images, verdicts, seconds };
}

function pixelDiff(a: RgbImage[], b: RgbImage[]) {
  let max = 0;
  let sum = 0;
  let n = 0;
  a.forEach((x, i) => {
    x.data.forEach((v, j) => {
      const d = Math.abs(v - b[i].data[j]);
      max = Math.max(max, d);
      sum += d;
      n++;
    });
  });
  return { max, mean: sum / n };
}

const perSeed = [];
for (const seed of seeds) {
  const ort = await sampleOn("ort", seed);
  const jax = await sampleOn("jax", seed);
  const differ = ort.verdicts.flatMap((v, i) => (v !== jax.verdicts[i] ? [i] : []));
  const px = pixelDiff(ort.images, jax.images);
  const r = {
    seed,
    images: ort.images.length,
    correctOrt: ort.verdicts.filter(Boolean).length,
    correctJax: jax.verdicts.filter(Boolean).length,
    differing: differ,
    maxPixelDiff: px.max,
    meanPixelDiff: px.mean,
    secondsOrt: ort.seconds,
    secondsJax: jax.seconds,
  };
  perSeed.push(r);
  process.stdout.write(
    `seed ${seed}: ${r.images} images, verdicts ${differ.length === 0 ? "identical" : `differ on ${differ.length} (${differ.join(", ")})`}; ` +
      `correct ORT ${r.correctOrt} / jax-js ${r.correctJax}; pixels (0–1) max |Δ| ${px.max.toExponential(2)}, ` +
      `mean ${px.mean.toExponential(2)}; sampling ${r.secondsOrt.toFixed(1)} s ORT vs ${r.secondsJax.toFixed(1)} s jax-js\n`,
  );
}
model.dispose();
if (values.json)
  atomicWriteFile(
    values.json,
    `${JSON.stringify({ model: values.model, limit, perSeed }, null, 2)}\n`,
  );
