/**
 * Evaluating a unified model on the suites (`reca eval`, `reca generate --suite`): the model
 * produces each suite's outputs — images for GenEval/DPG prompts, edits of the edit items'
 * sources, answers to the und questions — and the suites score them by their own rules with the
 * judge, exactly as `reca bench <suite> --images DIR` would score the same images written in
 * GenEval's layout.
 *
 * Item sets are the suites' documented defaults (or `full`), over the model's categories, so
 * numbers compare across models; the seed is the sampling seed only. DPG paragraphs longer
 * than the model's condition length are cut at a word boundary, counted in `truncatedPrompts`.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  answerMany,
  DEFAULT_ANSWER_TOKENS,
  editMany,
  fitCondition,
  generateMany,
  type InferenceModel,
  type SamplingOptions,
} from "../sample/batched.ts";
import { atomicWriteFile } from "../util/fsutil.ts";
import { type RgbImage, renderImage } from "../world/render.ts";
import { worldCategories } from "../world/vocab.ts";
import { DPG_IMAGES_PER_PROMPT, DPG_SEED, dpgPromptSet, dpgSuite } from "./dpg/index.ts";
import {
  EDIT_IMAGES_PER_ITEM,
  EDIT_SEED,
  type EditItem,
  editItemSet,
  editSuite,
} from "./edit/index.ts";
import {
  GENEVAL_IMAGES_PER_PROMPT,
  GENEVAL_SEED,
  genevalPromptSet,
  genevalSuite,
  readGenevalPrompts,
} from "./geneval/index.ts";
import type { Detector } from "./judge/types.ts";
import {
  type BenchSuite,
  type ImageEntry,
  LayoutError,
  scoreEntries,
  writeItemFolder,
} from "./layout.ts";
import { scoreUndBatched, UND_SEED, type UndSummary, undItemSet } from "./und/index.ts";

export const EVAL_SUITES = ["geneval", "dpg", "edit", "und"] as const;
export type EvalSuiteName = (typeof EVAL_SUITES)[number];
export type ImageSuiteName = Exclude<EvalSuiteName, "und">;

/** A live progress display (src/train/progress.ts fits); absent = silent. */
export type ProgressFactory = (
  label: string,
  total: number,
  unit: string,
) => { update(done: number): void; stop(): void };

export type ItemSetOptions = {
  full?: boolean;
  numCategories: number;
  /** geneval: a GenEval-format metadata JSONL instead of the built-in set. */
  prompts?: string;
  /** Keep only the first n items (smoke runs). */
  limit?: number;
};

export type SuiteItems = { suite: BenchSuite; metas: unknown[]; set: string; perItem: number };

/** The items of an image suite, as `reca bench` builds them by default. */
export function imageSuiteItems(name: ImageSuiteName, o: ItemSetOptions): SuiteItems {
  const common = { full: o.full, numCategories: o.numCategories };
  const which = o.full ? "full" : "default";
  let r: SuiteItems;
  if (name === "geneval")
    r = {
      suite: genevalSuite({ numCategories: o.numCategories }),
      metas: o.prompts
        ? readGenevalPrompts(o.prompts, worldCategories(o.numCategories))
        : genevalPromptSet(common),
      set: o.prompts ?? `${which}, seed ${GENEVAL_SEED}`,
      perItem: GENEVAL_IMAGES_PER_PROMPT,
    };
  else if (name === "dpg")
    r = {
      suite: dpgSuite(),
      metas: dpgPromptSet(common),
      set: `${which}, seed ${DPG_SEED}`,
      perItem: DPG_IMAGES_PER_PROMPT,
    };
  else
    r = {
      suite: editSuite(),
      metas: editItemSet(common),
      set: `${which}, seed ${EDIT_SEED}`,
      perItem: EDIT_IMAGES_PER_ITEM,
    };
  if (o.limit !== undefined) {
    r.metas = r.metas.slice(0, o.limit);
    r.set += `, first ${r.metas.length}`;
  }
  return r;
}

export type SuiteOutputs = { samples: RgbImage[][]; truncatedPrompts: number };

/** `perItem` outputs for every item: images of its prompt, or edits of its source. */
export async function suiteOutputs(
  model: InferenceModel,
  name: ImageSuiteName,
  metas: readonly unknown[],
  perItem: number,
  o: SamplingOptions = {},
): Promise<SuiteOutputs> {
  const rows = metas.flatMap((_, i) => Array.from({ length: perItem }, () => i));
  let images: RgbImage[];
  let truncatedPrompts = 0;
  if (name === "edit") {
    const items = metas as EditItem[];
    const sources = items.map((it) => renderImage(it.source, { size: model.imageSize }));
    images = await editMany(
      model,
      rows.map((i) => sources[i]),
      rows.map((i) => items[i].instruction),
      o,
    );
  } else {
    const prompts = (metas as { prompt: string }[]).map((m) => {
      const f = fitCondition(model, m.prompt);
      if (f.cut) truncatedPrompts++;
      return f.text;
    });
    images = await generateMany(
      model,
      rows.map((i) => prompts[i]),
      o,
    );
  }
  const samples = metas.map(() => [] as RgbImage[]);
  rows.forEach((i, r) => {
    samples[i].push(images[r]);
  });
  return { samples, truncatedPrompts };
}

/**
 * Make `dir` ready for a fresh layout: item folders left from an earlier run would be scored
 * with the new ones, so they are an error unless `force`, which removes them.
 */
export function prepareLayoutDir(dir: string, force = false): void {
  if (!existsSync(dir)) return;
  const items = readdirSync(dir).filter(
    (n) => /^\d+$/.test(n) && statSync(join(dir, n)).isDirectory(),
  );
  if (items.length === 0) return;
  if (!force)
    throw new LayoutError(
      `${dir} already holds ${items.length} item folders; pass --force to replace them`,
    );
  for (const n of items) rmSync(join(dir, n), { recursive: true, force: true });
}

/** GenEval's layout (as `reca bench --write-prompts`, plus the samples) for `bench --images`. */
export function writeSuiteLayout(
  dir: string,
  suite: BenchSuite,
  metas: readonly unknown[],
  samples: readonly RgbImage[][],
  size: number,
): void {
  metas.forEach((m, i) => {
    writeItemFolder(dir, i, m, { samples: samples[i], inputs: suite.inputs?.(m, size) });
  });
  atomicWriteFile(join(dir, "prompts.jsonl"), metas.map((m) => `${JSON.stringify(m)}\n`).join(""));
}

export type EvalOptions = ItemSetOptions & {
  suites: readonly EvalSuiteName[];
  /** Outputs per item (default: the suite's, 4 for geneval/dpg and 1 for edit). */
  perItem?: number;
  sampling?: Omit<SamplingOptions, "onProgress">;
  /** Also write each image suite's outputs in GenEval's layout under <outDir>/<suite>. */
  outDir?: string;
  /** Replace item folders an earlier run left in <outDir>/<suite>. */
  force?: boolean;
  /** Images per detector call. */
  detectBatch?: number;
  progress?: ProgressFactory;
  /** Each image suite's outputs with the judge's verdicts, in item/sample order (reports). */
  onScored?: (name: ImageSuiteName, images: ScoredOutput[]) => void;
};

/** One generated image and its result under the suite's rules (geneval: {correct, reason}). */
export type ScoredOutput = {
  item: number;
  meta: unknown;
  sample: number;
  image: RgbImage;
  result: unknown;
};

export type ImageSuiteResult = {
  overall: number;
  [k: string]: unknown;
  images: number;
  items: number;
  perItem: number;
  set: string;
  failures: number;
  seconds: number;
};
export type UndResult = UndSummary & { set: string; seconds: number };
export type EvalResult = Partial<Record<ImageSuiteName, ImageSuiteResult>> & { und?: UndResult };

const silent: ProgressFactory = () => ({ update() {}, stop() {} });

async function tracked<T>(
  progress: ProgressFactory,
  label: string,
  total: number,
  unit: string,
  run: (onProgress: (done: number) => void) => Promise<T>,
): Promise<T> {
  const bar = progress(label, total, unit);
  try {
    return await run((done) => bar.update(done));
  } finally {
    bar.stop();
  }
}

/** Generate and score one image suite. */
export async function evalImageSuite(
  model: InferenceModel,
  detect: Detector,
  name: ImageSuiteName,
  o: Omit<EvalOptions, "suites">,
): Promise<ImageSuiteResult> {
  const t0 = performance.now();
  const progress = o.progress ?? silent;
  const { suite, metas, set, perItem: defaultPerItem } = imageSuiteItems(name, o);
  if (o.outDir) prepareLayoutDir(join(o.outDir, name), o.force);
  const perItem = o.perItem ?? defaultPerItem;
  const total = metas.length * perItem;
  const out = await tracked(
    progress,
    `${name} ${name === "edit" ? "edit" : "generate"}`,
    total,
    "images",
    (update) => suiteOutputs(model, name, metas, perItem, { ...o.sampling, onProgress: update }),
  );
  if (o.outDir) writeSuiteLayout(join(o.outDir, name), suite, metas, out.samples, model.imageSize);
  const entries: ImageEntry<unknown>[] = metas.flatMap((meta, item) =>
    out.samples[item].map((image, sample) => ({ item, meta, sample, image })),
  );
  const { scored } = await tracked(progress, `${name} score`, entries.length, "images", (update) =>
    scoreEntries(suite, entries, detect, { batchSize: o.detectBatch, onProgress: update }),
  );
  o.onScored?.(
    name,
    scored.map((s, i) => ({
      item: s.item,
      meta: s.meta,
      sample: s.sample,
      image: entries[i].image!,
      result: s.result,
    })),
  );
  const { overall, ...rest } = suite.summarize(scored);
  return {
    overall,
    [suite.groupKey]: rest[suite.groupKey],
    ...rest,
    images: scored.length,
    items: metas.length,
    perItem,
    set,
    ...(name === "edit" ? {} : { truncatedPrompts: out.truncatedPrompts }),
    failures: scored.filter((s) => s.error).length,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Answer and score the und questions (batched through the model). */
export async function evalUnd(
  model: InferenceModel,
  o: Omit<EvalOptions, "suites">,
): Promise<UndResult> {
  const t0 = performance.now();
  const progress = o.progress ?? silent;
  let items = undItemSet({ full: o.full, numCategories: o.numCategories });
  let set = `${o.full ? "full" : "default"}, seed ${UND_SEED}`;
  if (o.limit !== undefined) {
    items = items.slice(0, o.limit);
    set += `, first ${items.length}`;
  }
  const chunk = o.sampling?.chunk;
  const total = items.reduce((a, it) => a + it.questions.length, 0);
  const summary = await tracked(progress, "und answer", total, "questions", (update) =>
    scoreUndBatched(
      items,
      (images, questions) =>
        answerMany(model, images, questions, { chunk, maxTokens: DEFAULT_ANSWER_TOKENS }),
      { size: model.imageSize, batchSize: chunk ?? 16, onProgress: update },
    ),
  );
  return { ...summary, set, seconds: (performance.now() - t0) / 1000 };
}

/** Every requested suite, in EVAL_SUITES order; the result is keyed by suite. */
export async function evalModel(
  model: InferenceModel,
  detect: Detector,
  o: EvalOptions,
): Promise<EvalResult> {
  const out: EvalResult = {};
  // Stale layouts fail before any suite runs.
  if (o.outDir)
    for (const name of o.suites)
      if (name !== "und") prepareLayoutDir(join(o.outDir, name), o.force);
  for (const name of EVAL_SUITES) {
    if (!o.suites.includes(name)) continue;
    if (name === "und") out.und = await evalUnd(model, o);
    else out[name] = await evalImageSuite(model, detect, name, o);
  }
  return out;
}

/** One line per suite: overall and the per-group scores (GenEval-style precision per suite). */
export function formatEvalTable(r: EvalResult): string {
  const digits: Record<EvalSuiteName, number> = { geneval: 3, dpg: 2, edit: 2, und: 3 };
  const groupKey: Record<EvalSuiteName, string> = {
    geneval: "tags",
    dpg: "categories",
    edit: "types",
    und: "types",
  };
  const rows: string[][] = [["suite", "overall", "groups"]];
  for (const name of EVAL_SUITES) {
    const s = r[name] as Record<string, unknown> | undefined;
    if (!s) continue;
    const d = digits[name];
    const groups = Object.entries((s[groupKey[name]] ?? {}) as Record<string, number>)
      .map(([k, v]) => `${k} ${v.toFixed(d)}`)
      .join("  ");
    const n =
      name === "und"
        ? `${s.questions} questions`
        : `${s.images} images${s.failures ? `, ${s.failures} failed` : ""}`;
    rows.push([name, (s.overall as number).toFixed(d), `${groups}  [${n}]`]);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`).join("\n");
}
