/**
 * Staged training of the unified model (docs/DESIGN.md, "Training order: LM, then VLM
 * alignment, then generation"): each stage starts from the previous stage's checkpoint, trains
 * some parts of the one parameter tree and freezes the rest (the model config's `freeze`), and
 * appends what it did to the model directory's `stages` record, so a checkpoint says which of
 * its parts were trained, by which stage, for how long.
 */
import { initEngine } from "../engine/jax.ts";
import { namedLeaves, type ParamTree, treeDispose } from "../engine/tree.ts";
import type { ResolvedUmmConfig } from "../umm/config.ts";
import { initUmm } from "../umm/model.ts";
import { provenance } from "../util/provenance.ts";

/** One stage in a model directory's `stages` list. */
export type StageRecord = {
  stage: string;
  /** Parameter groups this stage trained and left frozen (see `parameterGroups`). */
  trained: string[];
  frozen: string[];
  /** The checkpoint it started from (absent: a fresh init with `seed`). */
  from?: string;
  steps: number;
  seed: number;
  lr: number;
  /** What the stage trained on (its data block). */
  data: unknown;
  commit: string | null;
};

/** Dotted names of every parameter of the model (a fresh init, freed again). */
export async function parameterNames(cfg: ResolvedUmmConfig): Promise<string[]> {
  await initEngine();
  const p = initUmm(0, cfg) as unknown as ParamTree;
  const names = namedLeaves(p).map(([n]) => n);
  treeDispose(p);
  return names;
}

/** A parameter's group: "backbone.<part>" inside the language model, else its top-level name. */
export function parameterGroup(name: string): string {
  const parts = name.split(".");
  return parts[0] === "backbone" ? parts.slice(0, 2).join(".") : parts[0];
}

const matches = (name: string, prefix: string) => name === prefix || name.startsWith(`${prefix}.`);

/**
 * Check a stage's `freeze` list against the model's parameters and split the groups into
 * trained and frozen. A prefix that names no parameter (a typo) and a list that leaves nothing
 * to train are errors, each saying what the model has.
 */
export function splitGroups(
  names: readonly string[],
  freeze: readonly string[],
): { trained: string[]; frozen: string[] } {
  const groups = [...new Set(names.map(parameterGroup))];
  for (const f of freeze)
    if (!names.some((n) => matches(n, f)))
      throw new Error(
        `freeze: "${f}" names no parameter of this model (its parts: ${groups.join(", ")})`,
      );
  const isFrozen = (n: string) => freeze.some((f) => matches(n, f));
  const trained = groups.filter((g) => names.some((n) => parameterGroup(n) === g && !isFrozen(n)));
  const frozen = groups.filter((g) => names.some((n) => parameterGroup(n) === g && isFrozen(n)));
  if (trained.length === 0)
    throw new Error(`freeze: ${JSON.stringify(freeze)} leaves nothing to train`);
  return { trained, frozen };
}

/** A stage record for `cfg` (its freeze list and train block). */
export function stageRecord(
  stage: string,
  cfg: ResolvedUmmConfig,
  split: { trained: string[]; frozen: string[] },
  data: unknown,
  from?: string,
): StageRecord {
  return {
    stage,
    ...split,
    ...(from ? { from } : {}),
    steps: cfg.train.steps,
    seed: cfg.train.seed,
    lr: cfg.train.lr,
    data,
    commit: provenance().commit,
  };
}
