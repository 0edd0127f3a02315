/**
 * The `reca` command. Each subcommand lives in its own file under src/cli/ and
 * registers itself here; command files stay thin (parse, validate, call src/).
 */
import { Command, CommanderError } from "commander";

type Register = (program: Command) => void | Promise<void>;

/**
 * Errors that describe bad input, not a bug: printed as one line, exit code 2.
 * Matched by name so this module does not import the engine.
 */
const USER_FACING = new Set([
  "UserError",
  "CheckpointError",
  "CheckpointExistsError",
  "SafetensorsError",
  "PromptError",
  "DemoError",
  "ExperimentError",
]);

/** Subcommand modules, loaded lazily so `reca --help` stays fast. */
const commands: Record<string, () => Promise<{ register: Register }>> = {
  info: () => import("./info.ts"),
  checkpoint: () => import("./checkpoint.ts"),
  world: () => import("./world.ts"),
  judge: () => import("./judge.ts"),
  bench: () => import("./bench.ts"),
  train: () => import("./train.ts"),
  tokenizer: () => import("./tokenizer.ts"),
  probe: () => import("./probe.ts"),
  generate: () => import("./generate.ts"),
  edit: () => import("./edit.ts"),
  answer: () => import("./answer.ts"),
  eval: () => import("./eval.ts"),
  align: () => import("./align.ts"),
  demo: () => import("./demo.ts"),
  experiment: () => import("./experiment.ts"),
};

export async function buildProgram(registers: Register[]): Promise<Command> {
  const program = new Command("reca")
    .description("Reconstruction Alignment (RecA) for unified multimodal models, on jax-js")
    .showHelpAfterError()
    .exitOverride();
  // Sequential, so subcommands are listed in a stable order.
  for (const r of registers) await r(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const registers = await Promise.all(
    Object.values(commands).map(async (load) => (await load()).register),
  );
  const program = await buildProgram(registers);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof Error && USER_FACING.has(e.name)) {
      process.stderr.write(`reca: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
