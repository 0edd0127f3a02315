/**
 * `reca answer`: ask a unified model a question about an image (its image→text path, greedy).
 * Prints the answer on stdout. "describe the image in detail." asks for a dense description.
 */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";
import { addModelOptions, type ModelCliOptions } from "./model-options.ts";
import { intOption } from "./options.ts";

type Options = ModelCliOptions & { image: string; question: string; maxTokens?: number };

export function register(program: Command): void {
  addModelOptions(
    program
      .command("answer")
      .description("answer a question about an image with a unified model")
      .requiredOption("--image <png>", "the image (square PNG)")
      .requiredOption("--question <text>", 'e.g. "what color is the circle?"')
      .option(
        "--max-tokens <n>",
        "longest answer (default: what the model's text rows allow)",
        intOption("max-tokens", 1, 4096),
      ),
  ).action(async (o: Options) => {
    const { openModel, readInputImage } = await import("./model-options.ts");
    const { answerMany, checkQuestion } = await import("../sample/batched.ts");
    const { existsSync } = await import("node:fs");
    if (!existsSync(o.image)) throw new UserError(`${o.image}: no such file`);
    const model = await openModel(o);
    try {
      const image = await readInputImage(o.image, model.imageSize);
      checkQuestion(model, o.question);
      const [a] = await answerMany(model, [image], [o.question], { maxTokens: o.maxTokens });
      process.stdout.write(`${a}\n`);
    } finally {
      model.dispose();
    }
  });
}
