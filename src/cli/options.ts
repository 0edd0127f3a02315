/** Option parsers and option groups shared by commands. */
import type { Command } from "commander";
import { UserError } from "./config.ts";

/** Commander parser for an integer option within [lo, hi]. */
export function intOption(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) {
      throw new UserError(`--${name} must be an integer in [${lo}, ${hi}], got "${v}"`);
    }
    return n;
  };
}

/** Commander parser for a number option within [lo, hi]. */
export function numberOption(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < lo || n > hi) {
      throw new UserError(`--${name} must be a number in [${lo}, ${hi}], got "${v}"`);
    }
    return n;
  };
}

export type TrainCliOptions = {
  out: string;
  config?: string;
  steps?: number;
  seed?: number;
  resume?: boolean;
  force?: boolean;
  parallel?: "data" | "kernel";
  json?: string;
};

/** The options every `reca train <what>` command takes. */
export function addTrainOptions(cmd: Command, defaultConfig?: string): Command {
  return cmd
    .requiredOption("--out <dir>", "checkpoint directory")
    .option(
      "--config <file>",
      `JSON config${defaultConfig ? ` (default ${defaultConfig})` : "; built-in defaults otherwise"}`,
    )
    .option("--steps <n>", "override the configured number of steps", intOption("steps", 1, 1e9))
    .option("--seed <s>", "override the configured seed", intOption("seed", 0, 2 ** 32 - 1))
    .option("--resume", "continue the checkpoint in --out (bit-identical)")
    .option("--force", "start over even if --out already holds a checkpoint")
    .option(
      "--parallel <mode>",
      "data (worker replicas, the default) or kernel (split kernels over threads)",
      (v: string) => {
        if (v !== "data" && v !== "kernel")
          throw new UserError(`--parallel must be data or kernel, got "${v}"`);
        return v;
      },
    )
    .option("--json <file>", "write a summary of the run as JSON");
}
