/**
 * `reca bench geneval|dpg|edit`: score images by GenEval / DPG-Bench / GEdit+ImgEdit
 * rules. One of:
 *   --images DIR            score a folder in GenEval's layout (items from its metadata)
 *   --ground-truth          render ground-truth images for every item and score them
 *   --control noise|shuffled   score random noise / another item's ground truth
 *   --write-prompts DIR     write the item folders (metadata, edit sources) for a generator
 * Heavy imports live inside the action handler.
 */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";
import { intOption } from "./options.ts";

const SUITES = ["geneval", "dpg", "edit"] as const;
type SuiteName = (typeof SUITES)[number];

export type BenchOptions = {
  images?: string;
  groundTruth?: boolean;
  control?: string;
  writePrompts?: string;
  prompts?: string;
  out?: string;
  full?: boolean;
  oracle?: boolean;
  judge: string;
  json?: string;
  results?: string;
  perItem?: number;
  size: number;
  categories: number;
  seed?: number;
  batch: number;
};

export function register(program: Command): void {
  program
    .command("bench")
    .description("score images by GenEval / DPG-Bench / GEdit+ImgEdit rules")
    .argument("<suite>", "geneval | dpg | edit")
    .option("--images <dir>", "score this folder (<dir>/00000/metadata.jsonl, samples/00000.png)")
    .option("--ground-truth", "render ground-truth images for every item and score them")
    .option("--control <kind>", "score a control: noise | shuffled")
    .option("--write-prompts <dir>", "write the item folders without images, for a generator")
    .option(
      "--prompts <file>",
      "geneval: GenEval-format metadata JSONL instead of the built-in set",
    )
    .option("--out <dir>", "with --ground-truth/--control: also write the images in the layout")
    .option("--full", "the full item set instead of the default one")
    .option("--oracle", "detect with ground truth instead of the judge (debugging)")
    .option("--judge <dir>", "judge checkpoint folder", "checkpoints/judge")
    .option("--json <file>", "write the result as JSON")
    .option("--results <file>", "write one JSON line per scored image")
    .option(
      "--per-item <n>",
      "images per item to render (default 4; edit 1)",
      intOption("per-item", 1, 64),
    )
    .option("--size <px>", "image side for rendering: 32 or 64", intOption("size", 32, 64), 32)
    .option("--categories <n>", "active categories (2-10)", intOption("categories", 2, 10), 6)
    .option(
      "--seed <s>",
      "item-set seed (default: the suite's documented seed)",
      intOption("seed", 0, 2 ** 32 - 1),
    )
    .option("--batch <n>", "images per detector call", intOption("batch", 1, 4096), 64)
    .action(async (suite: string, o: BenchOptions) => {
      if (!(SUITES as readonly string[]).includes(suite))
        throw new UserError(`unknown suite "${suite}" (expected ${SUITES.join(", ")})`);
      await runBench(suite as SuiteName, o);
    });
}

function checkModes(suite: SuiteName, o: BenchOptions): void {
  const modes = [o.images, o.groundTruth, o.control, o.writePrompts].filter((m) => m !== undefined);
  if (modes.length !== 1)
    throw new UserError("give exactly one of --images, --ground-truth, --control, --write-prompts");
  if (o.control !== undefined && o.control !== "noise" && o.control !== "shuffled")
    throw new UserError(`--control must be noise or shuffled, got "${o.control}"`);
  if (o.prompts && suite !== "geneval") throw new UserError("--prompts applies to geneval only");
  if (o.images && (o.prompts || o.full || o.seed !== undefined))
    throw new UserError(
      "--images reads its items from the folder's metadata; drop --prompts/--full/--seed",
    );
  if (o.out && !(o.groundTruth || o.control))
    throw new UserError("--out goes with --ground-truth or --control");
  if (o.size !== 32 && o.size !== 64) throw new UserError("--size must be 32 or 64");
}

/** The trained judge, loaded through a dynamic import so this file builds before it exists. */
export async function loadJudgeDetector(dir: string) {
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  const weights = join(dir, "model.safetensors");
  if (!existsSync(weights))
    throw new UserError(
      `judge checkpoint missing: ${weights} (train the judge first, or pass --oracle to score with ground truth)`,
    );
  // index.ts is the judge's public face; detector.ts is where loadJudge lives until it exists.
  let mod: { loadJudge?: (dir?: string) => unknown } = {};
  const errors: string[] = [];
  for (const spec of ["../bench/judge/index.ts", "../bench/judge/detector.ts"] as string[]) {
    try {
      mod = await import(spec);
      if (typeof mod.loadJudge === "function") break;
      errors.push(`${spec} does not export loadJudge`);
    } catch (e) {
      errors.push((e as Error).message.split("\n")[0]);
    }
  }
  if (typeof mod.loadJudge !== "function")
    throw new UserError(
      `cannot load the judge: ${errors.join("; ")} (pass --oracle to score with ground truth)`,
    );
  return (await mod.loadJudge(dir)) as import("../bench/judge/types.ts").Detector;
}

async function runBench(name: SuiteName, o: BenchOptions): Promise<void> {
  checkModes(name, o);
  const t0 = performance.now();
  const { join } = await import("node:path");
  const L = await import("../bench/layout.ts");
  const { createOracle } = await import("../bench/oracle.ts");
  const { controlEntries, CONTROL_SEED } = await import("../bench/controls.ts");
  const { renderImage } = await import("../world/render.ts");
  const { atomicWriteFile } = await import("../util/fsutil.ts");
  const { writeJsonResult } = await import("../util/config.ts");
  const { createProgress } = await import("../train/progress.ts");
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const wrap = async <T>(f: () => T | Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof L.LayoutError) throw new UserError(e.message);
      throw e;
    }
  };

  // The suite and, unless --images, its items.
  let suite: import("../bench/layout.ts").BenchSuite;
  let metas: unknown[] = [];
  let set = "";
  const common = { full: o.full, numCategories: o.categories, seed: o.seed };
  if (name === "geneval") {
    const g = await import("../bench/geneval/index.ts");
    suite = g.genevalSuite({ numCategories: o.categories });
    if (!o.images) {
      const cats = (await import("../world/vocab.ts")).worldCategories(o.categories);
      metas = o.prompts
        ? await wrap(() => g.readGenevalPrompts(o.prompts!, cats))
        : g.genevalPromptSet(common);
      set = o.prompts ?? `${o.full ? "full" : "default"}, seed ${o.seed ?? g.GENEVAL_SEED}`;
    }
  } else if (name === "dpg") {
    const d = await import("../bench/dpg/index.ts");
    suite = d.dpgSuite();
    if (!o.images) {
      log(`dpg: building ${o.full ? "the full" : "the default"} item set…`);
      metas = d.dpgPromptSet(common);
      set = `${o.full ? "full" : "default"}, seed ${o.seed ?? d.DPG_SEED}`;
    }
  } else {
    const e = await import("../bench/edit/index.ts");
    suite = e.editSuite();
    if (!o.images) {
      metas = e.editItemSet(common);
      set = `${o.full ? "full" : "default"}, seed ${o.seed ?? e.EDIT_SEED}`;
    }
  }
  const perItem = o.perItem ?? (name === "edit" ? 1 : 4);
  const itemsMs = performance.now() - t0;

  if (o.writePrompts) {
    const dir = o.writePrompts;
    metas.forEach((m, i) => {
      L.writeItemFolder(dir, i, m, { inputs: suite.inputs?.(m, o.size) });
    });
    atomicWriteFile(
      join(dir, "prompts.jsonl"),
      metas.map((m) => `${JSON.stringify(m)}\n`).join(""),
    );
    process.stdout.write(`wrote ${metas.length} ${name} item folders to ${dir} (${set})\n`);
    return;
  }

  // Detector first, so a missing judge fails before any work.
  const oracle = createOracle();
  const detect = o.oracle ? oracle.detect : await loadJudgeDetector(o.judge);
  const render = (scene: import("../world/scene.ts").Scene, size: number) =>
    o.oracle ? oracle.render(scene, size) : renderImage(scene, { size });

  const tb = performance.now();
  let entries: import("../bench/layout.ts").ImageEntry<unknown>[];
  let empty: string[] = [];
  let mode: string;
  if (o.images) {
    const r = await wrap(() => L.entriesFromLayout(suite, o.images!));
    entries = r.entries;
    empty = r.empty;
    if (entries.length === 0)
      throw new UserError(
        `${o.images}: no images to score (${empty.length} item folders have no samples/*.png)`,
      );
    for (const f of empty.slice(0, 5))
      log(`warning: ${f} has no samples/*.png; its item is not scored`);
    if (empty.length > 5)
      log(`warning: … and ${empty.length - 5} more item folders without images`);
    if (o.oracle)
      for (const e of entries)
        if (e.image && e.image.width === e.image.height)
          try {
            render(suite.groundTruth(e.meta, e.sample, e.image.width), e.image.width);
          } catch {}
    mode = `images ${o.images}`;
  } else {
    // Ground truth can fail only for a prompt the world cannot draw: say which.
    const kind = o.control as "noise" | "shuffled";
    try {
      entries = o.groundTruth
        ? L.groundTruthEntries(suite, metas, perItem, o.size, render)
        : controlEntries(kind, suite, metas, perItem, o.size, render, CONTROL_SEED);
    } catch (e) {
      throw new UserError(`cannot render ground truth: ${(e as Error).message}`);
    }
    mode = o.groundTruth ? "ground-truth" : `control ${kind}`;
  }
  if (o.out)
    metas.forEach((m, i) => {
      const samples = entries.filter((e) => e.item === i).map((e) => e.image!);
      L.writeItemFolder(o.out!, i, m, { samples, inputs: suite.inputs?.(m, o.size) });
    });
  const prepareMs = performance.now() - tb;

  const bar = createProgress({ label: `bench ${name}`, total: entries.length, unit: "images" });
  const { scored, detectMs, scoreMs } = await L.scoreEntries(suite, entries, detect, {
    batchSize: o.batch,
    onProgress: (done) => bar.update(done),
  });
  bar.stop();
  const summary = suite.summarize(scored);
  const failures = scored
    .filter((s) => s.error)
    .map((s) => ({ item: s.item, sample: s.sample, error: s.error }));
  for (const f of failures) log(`failed: ${f.error}`);
  const { overall, ...rest } = summary;
  const result = {
    suite: name,
    overall,
    [suite.groupKey]: summary[suite.groupKey],
    images: scored.length,
    ...rest,
    mode,
    set: o.images ? `folder ${o.images}` : set,
    detector: o.oracle ? "oracle" : `judge ${o.judge}`,
    size: o.images ? undefined : o.size,
    perItem: o.images ? undefined : perItem,
    failures,
    emptyFolders: empty,
    timings: {
      itemsMs: Math.round(itemsMs),
      prepareMs: Math.round(prepareMs),
      detectMs: Math.round(detectMs),
      scoreMs: Math.round(scoreMs),
      totalMs: Math.round(performance.now() - t0),
    },
  };
  if (o.json) writeJsonResult(o.json, result);
  if (o.results)
    atomicWriteFile(
      o.results,
      scored
        .map((s) => `${JSON.stringify({ item: s.item, sample: s.sample, ...s.result })}\n`)
        .join(""),
    );
  const groups = Object.entries(summary[suite.groupKey] as Record<string, number>)
    .map(([k, v]) => `${k} ${v.toFixed(name === "geneval" ? 3 : 2)}`)
    .join("  ");
  process.stdout.write(
    `${name} (${mode}, ${result.detector}): overall ${summary.overall.toFixed(name === "geneval" ? 4 : 2)}  ${groups}  [${scored.length} images, ${failures.length} failed, ${(result.timings.totalMs / 1000).toFixed(1)} s]\n`,
  );
}
