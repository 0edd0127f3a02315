/**
 * The one abstraction that makes RecA general (ARCHITECTURE.md §2): a generation family turns a
 * *condition* — a sequence of backbone hidden states — into an image, and trains with its own
 * native loss. Text-to-image, editing and RecA differ only in how the condition is built; a
 * family never sees tokens, templates or understanding features directly.
 *
 * Images are NHWC float32 in [-1, 1] (`imageToTensor` in src/umm/images.ts), 32×32×3.
 */
import type { JaxArray } from "../engine/jax.ts";
import type { Rng } from "../engine/rng.ts";
import type { HostBatch } from "../engine/train-step.ts";
import type { ParamTree } from "../engine/tree.ts";

/**
 * Backbone hidden states for a batch of conditions.
 * - `states` float32 [B, L, D]
 * - `valid` float32 [B, L]: 1 at real positions, 0 at padding (keys to ignore, rows to skip
 *   when pooling).
 */
export type Condition = { states: JaxArray; valid: JaxArray };

/**
 * What a family's loss sees besides the condition. `target` [B, H, W, 3] is the image to
 * produce. `source` [B, H, W, 3] is the image to edit and `hasSource` [B] is 1 on rows that
 * edit (InstructPix2Pix-style extra input), 0 on text-to-image and reconstruction rows (their
 * `source` is ignored, conventionally zeros). `noise` holds the family's per-row randomness,
 * drawn on the host by `lossNoise` so a step is a pure function of its batch (bit-identical
 * resume, replicas that agree).
 */
export type FamilyTarget = {
  target: JaxArray;
  source: JaxArray;
  hasSource: JaxArray;
  noise: Record<string, JaxArray>;
};

export type SampleOptions = {
  /** Classifier-free guidance scale; 1 = the conditional model alone. */
  cfg: number;
  /** Sampler steps (flow: Euler steps). */
  steps: number;
  /** Seed of the initial noise (and any sampler randomness). */
  seed: number;
  /** Edit source images [B, H, W, 3] (rows with a source); absent = text-to-image. */
  source?: JaxArray;
};

export interface GenerationFamily<P extends ParamTree = ParamTree> {
  readonly name: "flow" | "mar" | "ar";
  /** Width of the condition states the family expects. */
  readonly conditionDim: number;
  /** Fresh parameters. Consumes key. */
  init(key: JaxArray): P;
  /**
   * Per-row native loss, float32 [B] (the caller weights and averages rows). Traceable under
   * `jit(grad)`. Consumes params, cond and every array of `t`.
   */
  loss(params: P, cond: Condition, t: FamilyTarget): JaxArray;
  /** Host-side per-row randomness for `loss` (e.g. flow: `eps` and `t`), n rows. */
  lossNoise(rng: Rng, n: number): HostBatch;
  /**
   * Images [B, H, W, 3] in [-1, 1] from conditions, guided against `nullCond` (the
   * "Generate an image." condition, same B). Does not consume its arguments.
   */
  sample(params: P, cond: Condition, nullCond: Condition, o: SampleOptions): Promise<JaxArray>;
}
