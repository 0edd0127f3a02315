/**
 * Attention masks. A mask is a boolean array, `true` where a query may attend to a key, shaped
 * [L, S] (shared by the batch) or [B, 1, L, S] / [B, 1, 1, S] (per sample; the 1 broadcasts over
 * heads). Combine masks with `andMasks`. Builders consume their array arguments.
 *
 * Unified models mix bidirectional and causal attention in one sequence: image tokens attend to
 * each other bidirectionally while text stays causal (Show-o, Transfusion, BAGEL). The prefix and
 * group masks below express that.
 */
import { type JaxArray, numpy as np } from "../jax.ts";

/**
 * Causal mask [L, S]: query i attends keys j <= i + (S - L). With S > L the queries are the last
 * L positions of the key sequence (incremental decoding against a cache).
 */
export function causalMask(L: number, S = L): JaxArray {
  return np.tri(L, S, S - L, { dtype: np.bool });
}

/**
 * Prefix-bidirectional mask over T tokens: the first P positions attend to each other
 * bidirectionally (e.g. image tokens), the rest are causal (and so see the whole prefix).
 * `prefix` is one P for the batch ([T, T] result) or int32 [B] per sample ([B, 1, T, T]).
 */
export function prefixBidirectionalMask(T: number, prefix: number | JaxArray): JaxArray {
  const causal = causalMask(T);
  if (typeof prefix === "number") {
    const inPrefix = np.arange(T).less(prefix).reshape([1, T]); // key j < P
    return np.logicalOr(causal, inPrefix);
  }
  const B = prefix.shape[0];
  const inPrefix = np
    .arange(T)
    .reshape([1, 1, 1, T])
    .less(prefix.reshape([B, 1, 1, 1]));
  return np.logicalOr(causal.reshape([1, 1, T, T]), inPrefix); // [B, 1, T, T]
}

/**
 * Causal attention plus bidirectional attention inside groups. groups int32 [B, T]: tokens with
 * the same id >= 0 see each other both ways; id -1 means "causal only". -> [B, 1, T, T].
 */
export function groupBidirectionalMask(groups: JaxArray): JaxArray {
  const [B, T] = groups.shape;
  const gi = groups.ref.reshape([B, 1, T, 1]);
  const gj = groups.reshape([B, 1, 1, T]);
  const same = np.logicalAnd(gi.ref.equal(gj), gi.greaterEqual(0)); // [B, 1, T, T]
  return np.logicalOr(causalMask(T).reshape([1, 1, T, T]), same);
}

/**
 * Group ids for `groupBidirectionalMask` from a boolean [B, T] marking bidirectional tokens:
 * each maximal run of `true` becomes one group (0, 1, ...), `false` tokens get -1. -> int32 [B, T].
 */
export function spanGroups(isBidirectional: JaxArray): JaxArray {
  const T = isBidirectional.shape[1];
  const b = isBidirectional.ref.astype(np.int32); // [B, T]
  const prev = np.pad(b.ref.slice([], [0, T - 1]), [
    [0, 0],
    [1, 0],
  ]); // b shifted right by one
  const starts = b.mul(prev.neg().add(1)); // 1 where a run begins
  const ids = np.cumsum(starts, 1).sub(1);
  return np.where(isBidirectional, ids, -1);
}

/** Keys at positions >= lengths[b] are padding. lengths int32 [B] -> [B, 1, 1, S]. */
export function lengthsKeyMask(lengths: JaxArray, S: number): JaxArray {
  const B = lengths.shape[0];
  return np
    .arange(S)
    .reshape([1, 1, 1, S])
    .less(lengths.reshape([B, 1, 1, 1]));
}

/** A boolean key mask [B, S] (true = real token) -> [B, 1, 1, S]. */
export function keyPaddingMask(valid: JaxArray): JaxArray {
  const [B, S] = valid.shape;
  return valid.astype(np.bool).reshape([B, 1, 1, S]);
}

/** Elementwise AND of masks (broadcasting). */
export function andMasks(...masks: JaxArray[]): JaxArray {
  return masks.reduce((a, b) => np.logicalAnd(a, b));
}
