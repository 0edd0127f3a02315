/**
 * Losses. Cross-entropy is written with a one-hot product rather than a gather: jax-js 0.1.25's
 * `jit(grad(...))` fails on the gather's gradient ("routine primitive scatter input is not imm",
 * docs/ENGINE.md). The one-hot costs O(N V), negligible beside the logits.
 */
import { type JaxArray, nn, numpy as np } from "./jax.ts";

/** Per-token negative log-likelihood: logits [..., V], targets int32 [...] -> [...]. */
export function tokenNll(logits: JaxArray, targets: JaxArray): JaxArray {
  const V = logits.shape[logits.ndim - 1];
  return nn.logSoftmax(logits, -1).mul(nn.oneHot(targets, V)).sum(-1).neg();
}

/**
 * sum(values * mask) / sum(mask), 0 when the mask is empty. The mask (or weights) has the
 * leading dims of `values` and is broadcast over its trailing dims.
 */
export function maskedMean(values: JaxArray, mask: JaxArray): JaxArray {
  const extra = values.ndim - mask.ndim;
  const m = np.broadcastTo(
    mask.astype(np.float32).reshape([...mask.shape, ...Array(extra).fill(1)]),
    values.shape,
  );
  const total = values.mul(m.ref).sum();
  return total.div(np.maximum(m.sum(), 1e-8));
}

/**
 * Mean token cross-entropy. logits [..., V], targets int32 [...], mask [...] (1 = counts, may
 * be fractional weights) -> scalar mean over the unmasked tokens. Consumes its arguments.
 */
export function crossEntropy(logits: JaxArray, targets: JaxArray, mask?: JaxArray): JaxArray {
  const nll = tokenNll(logits, targets);
  return mask === undefined ? nll.mean() : maskedMean(nll, mask);
}

/**
 * Mean squared error. `mask` (0/1 or weights) has the leading dims of pred (e.g. [B] per-sample
 * weights or [B, T] token mask for pred [B, T, D]); the mean is over the elements it selects.
 */
export function mse(pred: JaxArray, target: JaxArray, mask?: JaxArray): JaxArray {
  const sq = np.square(pred.sub(target));
  return mask === undefined ? sq.mean() : maskedMean(sq, mask);
}
