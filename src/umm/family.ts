/**
 * The one abstraction that makes RecA general (docs/DESIGN.md, "The family interface"): a
 * generation family turns a *condition* — a sequence of backbone hidden states — into an image,
 * and trains with its own native loss. Text-to-image, editing and RecA differ only in how the
 * condition is built; a family never sees tokens, templates or understanding features.
 *
 * A family owns its side of the data: what its targets are (pixels, VAE latents, VQ codes),
 * computed from images on the host (`FamilyData`), its editing input, its per-row noise, and its
 * sampler with its own options and defaults. Families whose image tokens live in the backbone's
 * sequence (Show-o, Harmon) get a backbone callback in their loss and sampler.
 *
 * Images are NHWC float32 in [-1, 1], `imageSize`² × 3.
 */
import type { JaxArray } from "../engine/jax.ts";
import type { Rng } from "../engine/rng.ts";
import type { HostBatch } from "../engine/train-step.ts";
import type { ParamTree } from "../engine/tree.ts";
import type { RgbImage } from "../world/render.ts";

/**
 * Backbone hidden states for a batch of conditions.
 * - `states` float32 [B, L, D]
 * - `valid` float32 [B, L]: 1 at real positions, 0 at padding (keys to ignore, rows to skip
 *   when pooling).
 */
export type Condition = { states: JaxArray; valid: JaxArray };

/**
 * Runs the backbone over [condition; `tokens`] and returns the final states at the appended
 * positions: tokens [B, N, D] → [B, N, D]. The appended tokens see the condition (causally after
 * it) and each other both ways. Consumes `tokens`; the condition is the callback's own.
 */
export type BackboneCallback = (tokens: JaxArray) => JaxArray;

/**
 * What a family's loss sees. `data` holds the family's own batch arrays — its targets and edit
 * inputs, under the names its `FamilyData` gave them. `noise` holds the family's per-row
 * randomness, drawn on the host by `lossNoise` so a step is a pure function of its batch
 * (bit-identical resume, replicas that agree). `backbone` is present for in-sequence families.
 */
export type FamilyInputs = {
  cond: Condition;
  data: Record<string, JaxArray>;
  noise: Record<string, JaxArray>;
  backbone?: BackboneCallback;
};

/** A family's sampler options beyond guidance and seed (flow: `steps`), all numbers. */
export type SamplerOptions = Record<string, number>;

export type SampleRequest = {
  cond: Condition;
  /** The "Generate an image." condition, same B: classifier-free guidance's other branch. */
  nullCond: Condition;
  /** Classifier-free guidance scale; 1 = the conditional model alone. */
  guidance: number;
  /** Seed of the initial noise and any sampler randomness. */
  seed: number;
  /** The family's options, complete (`FamilySampling.resolve`). */
  options: SamplerOptions;
  /** Edit rows: the family's edit inputs on the device (`FamilyData.editInputs`). */
  edit?: Record<string, JaxArray>;
  /** In-sequence families: the callback over each branch's condition. */
  backbone?: { cond: BackboneCallback; null: BackboneCallback };
};

/** Sampling defaults and the validation of a family's options. */
export type FamilySampling = {
  guidance: number;
  /** Default value of every option the sampler reads, with a line saying what it is. */
  options: Record<string, { default: number; help: string }>;
};

/**
 * The host side of a family's data. `targets` turns images into the arrays its loss reads
 * (pixels; or codes of a frozen tokenizer); `editInputs` gives the extra input of edit rows
 * (`undefined` = not an edit row). Both return arrays with the batch's leading axis.
 */
export type FamilyData = {
  targets(images: readonly RgbImage[]): Promise<HostBatch>;
  editInputs(sources: readonly (RgbImage | undefined)[]): HostBatch;
  dispose(): void;
};

export interface GenerationFamily<P extends ParamTree = ParamTree> {
  /** The registry name (src/umm/families/index.ts). */
  readonly name: string;
  /** Width of the condition states the family expects. */
  readonly conditionDim: number;
  /** Side of the images it reads and writes. */
  readonly imageSize: number;
  /** Whether loss and sampler need the backbone callback (image tokens in the sequence). */
  readonly inSequence: boolean;
  readonly sampling: FamilySampling;
  /** Fresh parameters. Consumes key. */
  init(key: JaxArray): P;
  /**
   * Per-row native loss, float32 [B] (the caller weights and averages rows). Traceable under
   * `jit(grad)`. Consumes params and every array of `inputs`.
   */
  loss(params: P, inputs: FamilyInputs): JaxArray;
  /** Host-side per-row randomness for `loss` (e.g. flow: `eps` and `t`), n rows. */
  lossNoise(rng: Rng, n: number): HostBatch;
  /** The host side of its data (may open a frozen tokenizer: dispose it). */
  openData(): FamilyData;
  /**
   * Images [B, H, W, 3] in [-1, 1] from conditions, guided against `nullCond`. Does not consume
   * its arguments.
   */
  sample(params: P, r: SampleRequest): Promise<JaxArray>;
}

/**
 * A complete set of sampler options: the family's defaults, overridden by `given`. An option the
 * family does not have is an error naming the ones it has.
 */
export function resolveSamplerOptions(
  family: Pick<GenerationFamily, "name" | "sampling">,
  given: Record<string, number | undefined> = {},
): SamplerOptions {
  const spec = family.sampling.options;
  const out: SamplerOptions = {};
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    if (!(k in spec))
      throw new Error(
        `the ${family.name} sampler has no option "${k}" (it has: ${Object.keys(spec).join(", ") || "none"})`,
      );
    if (!Number.isFinite(v)) throw new Error(`sampler option ${k} must be a number, got ${v}`);
    out[k] = v;
  }
  return out;
}
