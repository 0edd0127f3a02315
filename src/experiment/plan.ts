/**
 * An experiment plan (`reca experiment run --plan FILE`): the rows of a results table — each a
 * chain of post-training stages applied to one base model (none = the base itself) — the seeds,
 * and one evaluation protocol shared by every row. configs/experiments/paper.json is the paper's
 * table: base, SFT, RecA, SFT → RecA and the condition/template ablations.
 *
 * Stage paths are relative to the plan file. Every stage config is validated when the plan is
 * loaded, so a typo fails before hours of training, not after.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { EVAL_SUITES, type ImageSuiteName } from "../bench/eval.ts";
import { type PostTrainConfig, PostTrainConfigSchema } from "../train/reca.ts";
import { loadConfig, UserError, validateConfig } from "../util/config.ts";

const RowSchema = z
  .object({
    /** Folder name and CLI handle: lower-case letters, digits and dashes. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
    /** The table's row label. */
    label: z.string().min(1),
    /** Post-training configs applied in order, each starting from the previous stage's model. */
    stages: z.array(z.string().min(1)).default([]),
  })
  .strict();

/**
 * A finding of the paper to check on the table: `row` against `against`, seed by seed, on the
 * named columns (`reca experiment table` tests each paired difference over the seeds).
 */
const ClaimSchema = z
  .object({
    /** The paper's finding, in words (with its numbers where the paper gives them). */
    claim: z.string().min(1),
    row: z.string().min(1),
    against: z.string().min(1),
    /** Table column keys (single, two, count, colors, position, colorAttr, overall, dpg, …). */
    metrics: z.array(z.string().min(1)).min(1),
  })
  .strict();

export const EvalProtocolSchema = z
  .object({
    suites: z
      .array(z.enum(EVAL_SUITES))
      .min(1)
      .default([...EVAL_SUITES]),
    /**
     * Images per item: one number for every image suite, or per suite ({"geneval": 2}); a suite
     * not named (or null) keeps its documented default (4 for geneval/dpg, 1 for edit).
     */
    perItem: z
      .union([
        z.number().int().min(1),
        z
          .object({
            geneval: z.number().int().min(1).optional(),
            dpg: z.number().int().min(1).optional(),
            edit: z.number().int().min(1).optional(),
          })
          .strict(),
      ])
      .nullable()
      .default(null),
    /** Only the first n items of each suite; null = the whole default set. */
    limit: z.number().int().min(1).nullable().default(null),
    /** Sampler steps; null = the model's own. */
    sampleSteps: z.number().int().min(1).nullable().default(null),
    /** Gap-probe samples per (category, colour) pair; 0 = no gap probe. */
    gapSamples: z.number().int().min(0).default(4),
  })
  .strict();

export const ExperimentPlanSchema = z
  .object({
    rows: z.array(RowSchema).min(1),
    seeds: z.array(z.number().int().min(0)).min(1).default([0, 1, 2]),
    eval: EvalProtocolSchema.prefault({}),
    claims: z.array(ClaimSchema).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    for (const [i, r] of p.rows.entries()) {
      if (seen.has(r.name))
        ctx.addIssue({
          code: "custom",
          path: ["rows", i, "name"],
          message: `duplicate row ${r.name}`,
        });
      seen.add(r.name);
    }
    for (const [i, c] of p.claims.entries()) {
      for (const k of ["row", "against"] as const)
        if (!seen.has(c[k]))
          ctx.addIssue({
            code: "custom",
            path: ["claims", i, k],
            message: `no row ${c[k]} in this plan`,
          });
      if (c.row === c.against)
        ctx.addIssue({
          code: "custom",
          path: ["claims", i, "against"],
          message: "a claim compares two different rows",
        });
    }
    if (new Set(p.seeds).size !== p.seeds.length)
      ctx.addIssue({ code: "custom", path: ["seeds"], message: "duplicate seeds" });
  });

export type EvalProtocol = z.infer<typeof EvalProtocolSchema>;
export type Claim = z.infer<typeof ClaimSchema>;

/** The protocol's images per item for one image suite (undefined = the suite's default). */
export function perItemFor(p: EvalProtocol, suite: ImageSuiteName): number | undefined {
  if (p.perItem === null) return undefined;
  return typeof p.perItem === "number" ? p.perItem : p.perItem[suite];
}
export type ExperimentStage = { path: string; config: PostTrainConfig };
export type ExperimentRow = { name: string; label: string; stages: ExperimentStage[] };
export type ExperimentPlan = {
  path: string;
  rows: ExperimentRow[];
  seeds: number[];
  eval: EvalProtocol;
  claims: Claim[];
};

/** Parse a plan object; stage paths resolve against `baseDir`. */
export function parsePlan(raw: unknown, where: string, baseDir: string): ExperimentPlan {
  const p = validateConfig(ExperimentPlanSchema, raw, where);
  const rows = p.rows.map((r) => ({
    name: r.name,
    label: r.label,
    stages: r.stages.map((s) => {
      const path = resolve(baseDir, s);
      try {
        return { path, config: loadConfig(PostTrainConfigSchema, path) };
      } catch (e) {
        throw new UserError(`${where}: row ${r.name}: ${(e as Error).message}`);
      }
    }),
  }));
  return { path: where, rows, seeds: p.seeds, eval: p.eval, claims: p.claims };
}

export function loadPlan(path: string): ExperimentPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`cannot read experiment plan ${path}: ${(e as Error).message}`);
  }
  return parsePlan(raw, path, dirname(resolve(path)));
}

/** Keep only the named rows (in plan order); unknown names are an error. */
export function selectRows(plan: ExperimentPlan, names: readonly string[] | undefined) {
  if (!names || names.length === 0) return plan.rows;
  const known = new Set(plan.rows.map((r) => r.name));
  const bad = names.filter((n) => !known.has(n));
  if (bad.length > 0)
    throw new UserError(`unknown row(s) ${bad.join(", ")}; the plan has ${[...known].join(", ")}`);
  return plan.rows.filter((r) => names.includes(r.name));
}
