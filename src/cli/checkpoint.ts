/** `reca checkpoint inspect|export`: look inside checkpoint directories. */
import type { Command } from "commander";
import { writeJsonResult } from "../util/config.ts";

export function register(program: Command): void {
  const cmd = program.command("checkpoint").description("inspect or export checkpoint directories");

  cmd
    .command("inspect <dir>")
    .description("list tensors, parameter count, config and trainer state")
    .option("--json <file>", "also write the result as JSON")
    .option("--tensors", "list every tensor")
    .action(async (dir: string, opts: { json?: string; tensors?: boolean }) => {
      const { inspectCheckpoint } = await import("../engine/checkpoint.ts");
      const info = inspectCheckpoint(dir);
      const out = process.stdout;
      out.write(`checkpoint  ${info.dir}\n`);
      out.write(
        `parameters  ${info.parameters.toLocaleString("en-US")} in ${info.tensors.length} tensors\n`,
      );
      out.write(`files       ${info.files.join(", ")}\n`);
      if (info.trainer !== undefined) out.write(`trainer     ${JSON.stringify(info.trainer)}\n`);
      out.write(`config      ${JSON.stringify(info.config)}\n`);
      if (opts.tensors) {
        for (const t of info.tensors)
          out.write(`  ${t.name.padEnd(40)} ${t.dtype} [${t.shape.join(", ")}]\n`);
      }
      if (opts.json) writeJsonResult(opts.json, info);
    });

  cmd
    .command("export <dir>")
    .description("write the parameters as one F16 safetensors file (for the browser)")
    .requiredOption("--out <file>", "output .safetensors file")
    .option("--ema", "export the EMA weights instead of the raw parameters")
    .action(async (dir: string, opts: { out: string; ema?: boolean }) => {
      const { exportF16 } = await import("../engine/checkpoint.ts");
      const r = exportF16(dir, opts.out, { ema: opts.ema });
      process.stdout.write(`wrote ${opts.out}: ${r.tensors} tensors in F16\n`);
      if (r.overflowed > 0) {
        process.stderr.write(
          `warning: ${r.overflowed} values exceed the F16 range and became ±inf\n`,
        );
      }
    });
}
