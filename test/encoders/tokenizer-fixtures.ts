/** Small deterministic inputs for the tokenizer tests. */

import type { JaxArray } from "../../src/engine/jax.ts";
import { numpy as np } from "../../src/engine/jax.ts";
import { renderImage, sampleScene, WorldRng } from "../../src/world/index.ts";

/** `n` world renders (32×32, [0, 1]) as a device array [n, 32, 32, 3]. */
export function tinyImages(n: number, seed = 0): JaxArray {
  const data = new Float32Array(n * 32 * 32 * 3);
  for (let i = 0; i < n; i++) {
    const scene = sampleScene(WorldRng.fromParts("test/tokenizer", seed, i));
    data.set(renderImage(scene, { size: 32 }).data, i * 32 * 32 * 3);
  }
  return np.array(data).reshape([n, 32, 32, 3]);
}
