/**
 * Where condition features come from. By default the understanding encoder (the frozen ViT's
 * bottleneck). RecA's condition ablation swaps in a *generation* encoder for the reconstruction
 * conditions: the KL-VAE's posterior mean, normalised, average-pooled to r×r tokens of C
 * channels (docs/DESIGN.md, "RecA per architecture": generation features let the model copy pixels
 * instead of aligning semantics).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { initTokenizer, parseTokenizerConfig } from "../encoders/tokenizer.ts";
import {
  encode,
  LATENT_GRID,
  normalizeLatents,
  type VaeConfig,
  type VaeParams,
} from "../encoders/vae.ts";
import { poolGrid } from "../encoders/vit.ts";
import { loadCheckpoint } from "../engine/checkpoint.ts";
import { type JaxArray, jit, tree } from "../engine/jax.ts";
import { type ParamTree, treeDispose, treeRef } from "../engine/tree.ts";

/** Anything that turns images [B, 32, 32, 3] in [0, 1] into tokens [B, r·r, F]. Consumes images. */
export type FeatureSource = {
  features(images: JaxArray, o?: { resolution?: number }): JaxArray;
};

/** The KL-VAE as a feature source (frozen). */
export class VaeFeatureSource implements FeatureSource {
  readonly #fns = new Map<number, ReturnType<typeof jit>>();

  constructor(
    readonly params: VaeParams,
    readonly config: VaeConfig,
  ) {}

  /** Latent channels (the feature width). */
  get dim(): number {
    return this.config.model.latentChannels;
  }

  static load(dir: string): VaeFeatureSource {
    const path = join(dir, "config.json");
    const config = parseTokenizerConfig(JSON.parse(readFileSync(path, "utf8")), path);
    if (config.kind !== "vae") throw new Error(`${dir} is a ${config.kind} tokenizer, not a VAE`);
    const template = initTokenizer(config);
    try {
      const ck = loadCheckpoint(dir, { expected: template, skipOptimizer: true });
      if (ck.ema) tree.dispose(ck.ema);
      return new VaeFeatureSource(ck.params as unknown as VaeParams, config);
    } finally {
      tree.dispose(template);
    }
  }

  features(images: JaxArray, o: { resolution?: number } = {}): JaxArray {
    const r = o.resolution ?? LATENT_GRID;
    let f = this.#fns.get(r);
    if (!f) {
      const cfg = this.config;
      f = jit((p: VaeParams, x: JaxArray) => {
        const { mean, logvar } = encode(p, x, cfg);
        logvar.dispose();
        const [B, H, W, C] = mean.shape;
        return poolGrid(normalizeLatents(mean, cfg).reshape([B, H * W, C]), H, r);
      });
      this.#fns.set(r, f);
    }
    return f(treeRef(this.params as unknown as ParamTree), images) as JaxArray;
  }

  dispose(): void {
    for (const f of this.#fns.values()) f.dispose();
    treeDispose(this.params as unknown as ParamTree);
  }
}
