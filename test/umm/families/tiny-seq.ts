/**
 * A test-only generation family, registered at run time: what adding a family takes (a config
 * schema, a `GenerationFamily`, one `registerFamily` call). It is an *in-sequence* family, like
 * Show-o and Harmon: its image tokens (2×2 patches of a noised 8×8 image) run through the
 * backbone after the condition, via the backbone callback, and a linear head predicts the clean
 * patches. Its targets are computed from images on the host (32×32 renders average-pooled to
 * 8×8), so its data side differs from flow's. Small enough for the contract suite.
 *
 *   x_t = (1 − t)·x0 + t·ε;  h = backbone([cond; embed(patches(x_t)) + t·w_t]);  x̂0 = head(h)
 *   loss = per-row mean (x̂0 − x0)²;   sample: x̂0 guided, then x ← x̂0 + (t'/t)(x − x̂0)
 */
import { z } from "zod";
import { blockUntilReady, type JaxArray, numpy as np, tree } from "../../../src/engine/jax.ts";
import { initLinear, type LinearParams, linear } from "../../../src/engine/nn/index.ts";
import { Rng, splitKey } from "../../../src/engine/rng.ts";
import type { HostArray } from "../../../src/engine/train-step.ts";
import {
  type FamilySpec,
  registeredFamilies,
  registerFamily,
} from "../../../src/umm/families/index.ts";
import type { GenerationFamily } from "../../../src/umm/family.ts";
import type { RgbImage } from "../../../src/world/render.ts";

const SIDE = 8;
const PATCH = 2;
const TOKENS = (SIDE / PATCH) ** 2;
const PATCH_DIM = PATCH * PATCH * 3;

export const TinySeqConfigSchema = z
  .object({ sampleSteps: z.number().int().positive().default(3), guidance: z.number().default(2) })
  .strict();

type TinySeqParams = { embed: LinearParams; time: LinearParams; head: LinearParams };

/** x [B, S, S, 3] → [B, N, 12] patches. Consumes x. */
function patches(x: JaxArray): JaxArray {
  const B = x.shape[0];
  const g = SIDE / PATCH;
  return x
    .reshape([B, g, PATCH, g, PATCH, 3])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([B, TOKENS, PATCH_DIM]);
}

function unpatch(p: JaxArray): JaxArray {
  const B = p.shape[0];
  const g = SIDE / PATCH;
  return p
    .reshape([B, g, g, PATCH, PATCH, 3])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([B, SIDE, SIDE, 3]);
}

/** The clean image predicted from x_t at times t [B] through `run`. Consumes p, x, t. */
function predict(p: TinySeqParams, x: JaxArray, t: JaxArray, run: (tok: JaxArray) => JaxArray) {
  const B = x.shape[0];
  const tokens = linear(p.embed, patches(x)).add(linear(p.time, t.reshape([B, 1, 1])));
  return unpatch(linear(p.head, run(tokens)));
}

/** 32×32 renders → 8×8 in [-1, 1] by 4×4 average pooling (the family's own targets). */
function pooledTargets(images: readonly (RgbImage | undefined)[]): HostArray {
  const out = new Float32Array(images.length * SIDE * SIDE * 3);
  images.forEach((im, i) => {
    if (!im) return;
    const f = im.width / SIDE;
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++)
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let dy = 0; dy < f; dy++)
            for (let dx = 0; dx < f; dx++)
              s += im.data[((y * f + dy) * im.width + x * f + dx) * 3 + c];
          out[((i * SIDE + y) * SIDE + x) * 3 + c] = (s / (f * f)) * 2 - 1;
        }
  });
  return { dtype: "float32", shape: [images.length, SIDE, SIDE, 3], data: out };
}

function tinySeqFamily(cfg: z.infer<typeof TinySeqConfigSchema>, D: number): GenerationFamily {
  return {
    name: "tiny-seq",
    conditionDim: D,
    imageSize: SIDE,
    inSequence: true,
    sampling: {
      guidance: cfg.guidance,
      options: { steps: { default: cfg.sampleSteps, help: "denoising steps" } },
    },
    init(key): TinySeqParams {
      const [ke, kt, kh] = splitKey(key, 3);
      return {
        embed: initLinear(ke, PATCH_DIM, D),
        time: initLinear(kt, 1, D),
        head: initLinear(kh, D, PATCH_DIM),
      };
    },
    loss(params, inputs) {
      const p = params as TinySeqParams;
      const run = inputs.backbone;
      if (!run) throw new Error("tiny-seq: needs the backbone callback");
      inputs.cond.states.dispose();
      inputs.cond.valid.dispose();
      const { target: x0, ...rest } = inputs.data;
      for (const a of Object.values(rest)) a.dispose();
      const { eps, t } = inputs.noise;
      const B = x0.shape[0];
      const tb = t.ref.reshape([B, 1, 1, 1]);
      const xt = x0.ref.mul(tb.ref.neg().add(1)).add(eps.mul(tb));
      return np.square(predict(p, xt, t, run).sub(x0)).mean([1, 2, 3]);
    },
    lossNoise(rng: Rng, n: number) {
      const eps = new Float32Array(n * SIDE * SIDE * 3).map(() => rng.normal());
      const t = Float32Array.from({ length: n }, () => rng.float());
      return {
        eps: { dtype: "float32", shape: [n, SIDE, SIDE, 3], data: eps },
        t: { dtype: "float32", shape: [n], data: t },
      };
    },
    openData: () => ({
      targets: async (images) => ({ target: pooledTargets(images) }),
      editInputs: () => ({}),
      dispose: () => {},
    }),
    async sample(params, r) {
      const p = params as TinySeqParams;
      if (!r.backbone) throw new Error("tiny-seq: needs the backbone callbacks");
      const { cond: runC, null: runN } = r.backbone;
      const B = r.cond.states.shape[0];
      const rng = new Rng(`tiny-seq/sample:${r.seed}`);
      const noise = new Float32Array(B * SIDE * SIDE * 3).map(() => rng.normal());
      let x = np.array(noise).reshape([B, SIDE, SIDE, 3]);
      const steps = r.options.steps;
      for (let k = 0; k < steps; k++) {
        const t = 1 - k / steps;
        const tNext = 1 - (k + 1) / steps;
        const p0 = (run: (tok: JaxArray) => JaxArray) =>
          predict(tree.ref(p) as TinySeqParams, x.ref, np.full([B], t), run);
        const pc = p0(runC);
        let x0: JaxArray;
        if (r.guidance === 1) x0 = pc;
        else {
          const pn = p0(runN);
          x0 = pn.ref.add(pc.sub(pn).mul(r.guidance));
        }
        x = x0.ref.add(x.sub(x0).mul(tNext / t));
        await blockUntilReady(x);
      }
      return np.clip(x, -1, 1);
    },
  };
}

export const TINY_SEQ: FamilySpec = {
  name: "tiny-seq",
  schema: TinySeqConfigSchema as unknown as z.ZodType<Record<string, unknown>>,
  build: (block, ctx) =>
    tinySeqFamily(block as z.infer<typeof TinySeqConfigSchema>, ctx.conditionDim),
};

/** Register the test family once per process. */
export function registerTinySeq(): void {
  if (!registeredFamilies().includes(TINY_SEQ.name)) registerFamily(TINY_SEQ);
}
