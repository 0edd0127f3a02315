/** `reca info`: what this installation runs on. */
import type { Command } from "commander";
import { writeJsonResult } from "../util/config.ts";

export function register(program: Command): void {
  program
    .command("info")
    .description("show versions, threads and the default parallelism")
    .option("--json <file>", "also write the result as JSON")
    .action(async (opts: { json?: string }) => {
      const { readFileSync } = await import("node:fs");
      const os = await import("node:os");
      const { kernelThreads, configuredThreads } = await import("../engine/node-setup.ts");
      const { DEFAULT_PARALLELISM } = await import("../engine/parallel/index.ts");
      const pkg = (p: string) =>
        JSON.parse(readFileSync(new URL(p, import.meta.url), "utf8")) as { version: string };
      const info = {
        reca: pkg("../../package.json").version,
        jaxjs: pkg("../../node_modules/@jax-js/jax/package.json").version,
        node: process.version,
        cpus: os.availableParallelism(),
        threads: configuredThreads(),
        kernelThreads,
        parallelism: DEFAULT_PARALLELISM,
      };
      for (const [k, v] of Object.entries(info)) process.stdout.write(`${k.padEnd(12)} ${v}\n`);
      if (opts.json) writeJsonResult(opts.json, info);
    });
}
