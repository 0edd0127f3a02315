/**
 * `reca train <what>`: one subcommand per trainable thing. Each lives in
 * src/cli/train/<what>.ts and exports `register(train: Command)`; they are found
 * by listing that folder, so adding a trainable never edits a shared file.
 */
import { readdirSync } from "node:fs";
import type { Command } from "commander";

export async function register(program: Command): Promise<void> {
  const train = program.command("train").description("train encoders, tokenizers and models");
  const dir = new URL("./train/", import.meta.url);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort();
  for (const f of files) {
    const mod = (await import(new URL(f, dir).href)) as { register?: (c: Command) => void };
    mod.register?.(train);
  }
}
