/**
 * `reca edit`: instruction-based editing with a unified model. The input PNG must be square; it
 * is resampled to the model's side (area averaging). With --n > 1 the samples go into one
 * contact sheet, as in `reca generate`.
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

type Options = ModelCliOptions &
  SamplingCliOptions & {
    image: string;
    instruction: string;
    out: string;
    n: number;
    scale: number;
  };

export function register(program: Command): void {
  const cmd = program
    .command("edit")
    .description("edit an image by an instruction with a unified model")
    .requiredOption("--image <png>", "the image to edit (square PNG)")
    .requiredOption("--instruction <text>", 'e.g. "make the red circle blue"')
    .requiredOption("--out <png>", "where to write the edited image")
    .option("--n <n>", "samples (n > 1: a contact sheet)", intOption("n", 1, 64), 1)
    .option("--scale <k>", "nearest-neighbour upscale of the PNG", intOption("scale", 1, 32), 1);
  addSamplingOptions(addModelOptions(cmd)).action(async (o: Options) => {
    if (!o.out.endsWith(".png")) throw new UserError(`--out must name a .png file, got ${o.out}`);
    const { openModel, readInputImage, samplingOf, writePng } = await import("./model-options.ts");
    const { checkCondition, editMany } = await import("../sample/batched.ts");
    const { contactSheet } = await import("../data/png.ts");
    const { existsSync } = await import("node:fs");
    if (!existsSync(o.image)) throw new UserError(`${o.image}: no such file`);
    const model = await openModel(o);
    try {
      const source = await readInputImage(o.image, model.imageSize);
      checkCondition(model, o.instruction, true);
      const s = samplingOf(o);
      const images = await editMany(
        model,
        Array.from({ length: o.n }, () => source),
        Array.from({ length: o.n }, () => o.instruction),
        { ...s, chunk: s.chunk ?? Math.min(o.n, 16) },
      );
      const image = o.n === 1 ? images[0] : contactSheet(images, { cols: Math.min(o.n, 8) });
      await writePng(o.out, image, o.scale);
      process.stdout.write(`wrote ${o.out}\n`);
    } finally {
      model.dispose();
    }
  });
}
