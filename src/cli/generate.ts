/**
 * `reca generate`: text→image with a trained unified model.
 *   --prompt TEXT --out FILE.png   one image (--n 1), or with --n > 1 one contact sheet of the
 *                                  n samples in a row (cols = min(n, 8)), 2-px dark padding
 *   --suite geneval|dpg|edit --out DIR   every item of the suite's default (or --full) set in
 *                                  GenEval's folder layout, ready for `reca bench <suite> --images DIR`
 * Heavy imports live inside the action handler.
 */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";
import {
  addModelOptions,
  addSamplingOptions,
  type ModelCliOptions,
  type SamplingCliOptions,
} from "./model-options.ts";
import { intOption } from "./options.ts";

const SUITES = ["geneval", "dpg", "edit"] as const;

type Options = ModelCliOptions &
  SamplingCliOptions & {
    prompt?: string;
    suite?: string;
    out: string;
    n?: number;
    scale: number;
    prompts?: string;
    full?: boolean;
    limit?: number;
    force?: boolean;
  };

export function register(program: Command): void {
  const cmd = program
    .command("generate")
    .description("text→image with a unified model: one prompt, or a whole suite's prompt set")
    .option("--prompt <text>", 'the prompt (the world\'s words, e.g. "a red circle")')
    .option("--suite <name>", `write a suite's outputs in GenEval's layout: ${SUITES.join(" | ")}`)
    .requiredOption("--out <path>", "--prompt: the PNG to write; --suite: the layout folder")
    .option(
      "--n <n>",
      "--prompt: samples (n > 1: a contact sheet); --suite: images per item (default 4, edit 1)",
      intOption("n", 1, 64),
    )
    .option(
      "--scale <k>",
      "--prompt: nearest-neighbour upscale of the PNG",
      intOption("scale", 1, 32),
      1,
    )
    .option(
      "--prompts <file>",
      "--suite geneval: GenEval-format metadata JSONL instead of the built-in set",
    )
    .option("--full", "--suite: the full item set instead of the default one")
    .option("--force", "--suite: replace item folders already in --out")
    .option(
      "--limit <n>",
      "--suite: only the first n items (smoke runs)",
      intOption("limit", 1, 1e6),
    );
  addSamplingOptions(addModelOptions(cmd)).action(async (o: Options) => {
    if ((o.prompt === undefined) === (o.suite === undefined))
      throw new UserError("give exactly one of --prompt or --suite");
    if (o.suite !== undefined) await generateSuite(o);
    else await generateOne(o);
  });
}

async function generateOne(o: Options): Promise<void> {
  if (o.prompts || o.full || o.force || o.limit !== undefined)
    throw new UserError("--prompts, --full, --force and --limit go with --suite");
  if (!o.out.endsWith(".png")) throw new UserError(`--out must name a .png file, got ${o.out}`);
  const { openModel, samplingOf, writePng } = await import("./model-options.ts");
  const { checkCondition, generateMany } = await import("../sample/batched.ts");
  const { contactSheet } = await import("../data/png.ts");
  const model = await openModel(o);
  try {
    checkCondition(model, o.prompt!);
    const n = o.n ?? 1;
    const s = samplingOf(o);
    const images = await generateMany(
      model,
      Array.from({ length: n }, () => o.prompt!),
      { ...s, chunk: s.chunk ?? Math.min(n, 16) },
    );
    const image = n === 1 ? images[0] : contactSheet(images, { cols: Math.min(n, 8) });
    await writePng(o.out, image, o.scale);
    process.stdout.write(
      `wrote ${o.out} (${n === 1 ? "1 image" : `${n} samples, contact sheet`}, seed ${o.seed})\n`,
    );
  } finally {
    model.dispose();
  }
}

async function generateSuite(o: Options): Promise<void> {
  const name = o.suite as (typeof SUITES)[number];
  if (!(SUITES as readonly string[]).includes(name))
    throw new UserError(`unknown suite "${o.suite}" (expected ${SUITES.join(", ")})`);
  if (o.prompts && name !== "geneval") throw new UserError("--prompts applies to geneval only");
  const { openModel, progressFactory, samplingOf } = await import("./model-options.ts");
  const { imageSuiteItems, prepareLayoutDir, suiteOutputs, writeSuiteLayout } = await import(
    "../bench/eval.ts"
  );
  const { LayoutError } = await import("../bench/layout.ts");
  const model = await openModel(o);
  try {
    const numCategories = model.config.data.numCategories;
    let items: import("../bench/eval.ts").SuiteItems;
    try {
      prepareLayoutDir(o.out, o.force);
      items = imageSuiteItems(name, {
        full: o.full,
        numCategories,
        prompts: o.prompts,
        limit: o.limit,
      });
    } catch (e) {
      if (e instanceof LayoutError) throw new UserError(e.message);
      throw e;
    }
    const perItem = o.n ?? items.perItem;
    const bar = (await progressFactory())(
      `generate ${name}`,
      items.metas.length * perItem,
      "images",
    );
    const out = await suiteOutputs(model, name, items.metas, perItem, {
      ...samplingOf(o),
      onProgress: (done) => bar.update(done),
    });
    bar.stop();
    writeSuiteLayout(o.out, items.suite, items.metas, out.samples, model.imageSize);
    if (out.truncatedPrompts > 0)
      process.stderr.write(
        `warning: ${out.truncatedPrompts} prompts were cut to the model's ` +
          `${model.config.sequence.conditionLen}-token condition\n`,
      );
    const cats = numCategories === 6 ? "" : ` --categories ${numCategories}`;
    process.stdout.write(
      `wrote ${items.metas.length} ${name} item folders (${perItem} per item, ${items.set}) to ${o.out}\n` +
        `score them with: reca bench ${name} --images ${o.out}${cats}\n`,
    );
  } finally {
    model.dispose();
  }
}
