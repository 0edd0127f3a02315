/** `reca train vae`: the KL-VAE generation tokenizer (src/encoders/vae.ts). */
import type { Command } from "commander";
import { addTrainOptions, type TrainCliOptions } from "../options.ts";

export function register(train: Command): void {
  addTrainOptions(
    train
      .command("vae")
      .description("train the KL-VAE tokenizer (32×32×3 → 8×8×C latents); writes recon.png"),
  ).action(async (o: TrainCliOptions) => {
    const { VaeConfigSchema } = await import("../../encoders/vae.ts");
    const { runTokenizerTraining } = await import("../tokenizer.ts");
    await runTokenizerTraining(VaeConfigSchema, o);
  });
}
