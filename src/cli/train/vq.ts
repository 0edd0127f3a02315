/** `reca train vq`: the VQ-VAE generation tokenizer (src/encoders/vq.ts). */
import type { Command } from "commander";
import { addTrainOptions, type TrainCliOptions } from "../options.ts";

export function register(train: Command): void {
  addTrainOptions(
    train
      .command("vq")
      .description("train the VQ-VAE tokenizer (32×32×3 → 8×8 codebook tokens); writes recon.png"),
  ).action(async (o: TrainCliOptions) => {
    const { VqConfigSchema } = await import("../../encoders/vq.ts");
    const { runTokenizerTraining } = await import("../tokenizer.ts");
    await runTokenizerTraining(VqConfigSchema, o);
  });
}
