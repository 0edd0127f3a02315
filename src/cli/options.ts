/** Option parsers and option groups shared by commands. */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";

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

/**
 * A point in time for --deadline-like options, as epoch ms: `+N` (N minutes from now), `HH:MM`
 * (local time, today or, when already past, tomorrow) or an ISO 8601 date-time.
 */
export function parseDeadline(v: string, name: string, now = Date.now()): number {
  const bad = () =>
    new UserError(
      `--${name} must be +MINUTES, HH:MM or an ISO date-time (2026-11-28T16:20Z), got "${v}"`,
    );
  const s = v.trim();
  const rel = /^\+(\d+(?:\.\d+)?)$/.exec(s);
  if (rel) return now + Number(rel[1]) * 60_000;
  const hm = /^(\d{1,2}):(\d{2})$/.exec(s);
  if (hm) {
    const [h, m] = [Number(hm[1]), Number(hm[2])];
    if (h > 23 || m > 59) throw bad();
    const d = new Date(now);
    d.setHours(h, m, 0, 0);
    if (d.getTime() <= now) d.setDate(d.getDate() + 1);
    return d.getTime();
  }
  // Only full date-times: a bare date or number would parse to something surprising.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(s)) throw bad();
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw bad();
  return t;
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
      "kernel (one local step: ORT intra-op threads, the default on ORT) or data (worker replicas, the default with RECA_ENGINE=jax)",
      (v: string) => {
        if (v !== "data" && v !== "kernel")
          throw new UserError(`--parallel must be data or kernel, got "${v}"`);
        return v;
      },
    )
    .option("--json <file>", "write a summary of the run as JSON");
}
