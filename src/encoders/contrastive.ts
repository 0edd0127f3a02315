/**
 * Image–text contrastive losses over a batch of L2-normalised embeddings.
 *
 * The default is SigLIP's pairwise sigmoid loss (Zhai et al., 2023):
 *   L = −(1/B) Σ_i Σ_j log σ(z_ij (t·x_i·y_j + b)),   z_ij = +1 for matching pairs, −1 otherwise,
 * with a learnable temperature t = exp(t') and bias b. Why sigmoid rather than CLIP's InfoNCE here:
 * - Small batches. SigLIP's paper finds the sigmoid loss clearly ahead of softmax below batch
 *   ~16k and the gap widest at the smallest batches; on 2 CPU cores our batch is 32–64.
 * - Data parallelism. Each worker replica computes the loss on its own shard (engine/parallel),
 *   and the sigmoid loss is a sum of independent pair terms, so a shard's loss is a well-defined
 *   part of the batch loss without gathering embeddings; InfoNCE's row normalisation would
 *   silently change with the shard size.
 * - Duplicate captions. In a synthetic world two scenes in a batch often mean the same thing
 *   ("one object: a red circle."). Labels come from scene keys, so such pairs are positives; the
 *   sigmoid loss takes any number of positives per row as independent binary terms, where
 *   InfoNCE must split one unit of probability between them.
 * `infoNceLoss` (symmetric, with the same multi-positive targets) is kept for comparison.
 */
import { type JaxArray, nn, numpy as np } from "../engine/jax.ts";

/** CLIP clamps the learned logit scale at 100. */
export const MAX_LOG_SCALE = Math.log(100);

/** x [B, E] → x / ‖x‖ per row. Consumes x. */
export function l2Normalize(x: JaxArray, eps = 1e-6): JaxArray {
  const n = np.sqrt(np.square(x.ref).sum(-1, { keepdims: true }).add(eps));
  return x.div(n);
}

/** keys int32 [B] → 1 where keys_i = keys_j, else 0: [B, B] f32. Consumes keys. */
export function matchMatrix(keys: JaxArray): JaxArray {
  const B = keys.shape[0];
  return np.equal(keys.ref.reshape([B, 1]), keys.reshape([1, B])).astype(np.float32);
}

/** t·x yᵀ + b for image [B, E] and text [B, E] embeddings → [B, B]. Consumes all four. */
export function pairLogits(
  img: JaxArray,
  txt: JaxArray,
  logScale: JaxArray,
  bias?: JaxArray,
): JaxArray {
  const scale = np.exp(np.minimum(logScale, MAX_LOG_SCALE));
  const logits = np.matmul(img, txt.transpose()).mul(scale);
  return bias === undefined ? logits : logits.add(bias);
}

/**
 * SigLIP loss. img/txt [B, E] L2-normalised, logScale/bias scalars, pos [B, B] in {0, 1}
 * (1 where text j describes image i). Returns the scalar −(1/B) Σ_ij log σ(z_ij ℓ_ij).
 * Consumes everything.
 */
export function sigmoidLoss(
  img: JaxArray,
  txt: JaxArray,
  logScale: JaxArray,
  bias: JaxArray,
  pos: JaxArray,
): JaxArray {
  const B = img.shape[0];
  const z = pos.mul(2).sub(1); // ±1
  const logits = pairLogits(img, txt, logScale, bias);
  return nn.logSigmoid(logits.mul(z)).sum().div(-B);
}

/**
 * Symmetric InfoNCE (CLIP) with multi-positive targets: each row's target distribution is uniform
 * over its positives. Same arguments as `sigmoidLoss` (the bias is unused and consumed).
 */
export function infoNceLoss(
  img: JaxArray,
  txt: JaxArray,
  logScale: JaxArray,
  bias: JaxArray,
  pos: JaxArray,
): JaxArray {
  bias.dispose();
  const logits = pairLogits(img, txt, logScale); // [B, B]
  const rows = pos.ref.div(pos.ref.sum(1, { keepdims: true })); // image → text targets
  const cols = pos.ref.div(pos.sum(0, { keepdims: true })); // text → image targets
  const i2t = nn.logSoftmax(logits.ref, 1).mul(rows).sum(1).mean();
  const t2i = nn.logSoftmax(logits, 0).mul(cols).sum(0).mean();
  return i2t.add(t2i).mul(-0.5);
}

export type ContrastiveLossKind = "sigmoid" | "softmax";

export function contrastiveLoss(kind: ContrastiveLossKind) {
  return kind === "sigmoid" ? sigmoidLoss : infoNceLoss;
}
