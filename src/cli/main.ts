/**
 * The `reca` command. Each subcommand lives in its own file under src/cli/ and
 * registers itself here; command files stay thin (parse, validate, call src/).
 */
import { Command, CommanderError } from "commander";
import { UserError } from "./config.ts";

type Register = (program: Command) => void;

/** Subcommand modules, loaded lazily so `reca --help` stays fast. */
const commands: Record<string, () => Promise<{ register: Register }>> = {};

export function buildProgram(registers: Register[]): Command {
  const program = new Command("reca")
    .description("Reconstruction Alignment (RecA) for unified multimodal models, on jax-js")
    .showHelpAfterError()
    .exitOverride();
  for (const r of registers) r(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const registers = await Promise.all(
    Object.values(commands).map(async (load) => (await load()).register),
  );
  const program = buildProgram(registers);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof UserError) {
      process.stderr.write(`reca: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
