/**
 * The OpenUni-style family (Wu et al., 2025, "OpenUni"; MetaQuery): a frozen language model reads
 * the prompt followed by N learnable queries; the final states at the query positions go through
 * a small trainable *connector* transformer, whose outputs condition a diffusion generator — here
 * the flow family's U-Net (rectified flow in pixel space, cross-attention to the connector's
 * tokens). RecA on this family trains queries, connector and generator; the language model stays
 * frozen, so understanding is preserved by construction (docs/DESIGN.md, "RecA per
 * architecture").
 *
 * The family itself is the connector + generator. The queries live in the backbone's input (the
 * model config's `queries: N`) and the freezing in its `freeze` (e.g. "backbone"): the family
 * only sees the condition — the N query states, all valid.
 *
 *   c = LayerNorm(blocks(condition states))     pre-LN transformer, padding keys masked
 *   loss, sampler, data side: the flow family's, on c
 */
import { z } from "zod";
import { type JaxArray, jit } from "../../engine/jax.ts";
import {
  applyBlocks,
  type BlockParams,
  initBlocks,
  initLayerNorm,
  keyPaddingMask,
  type LayerNormParams,
  layerNorm,
} from "../../engine/nn/index.ts";
import { splitKey } from "../../engine/rng.ts";
import { type ParamTree, treeRef } from "../../engine/tree.ts";
import type { Condition, GenerationFamily } from "../family.ts";
import { FlowConfigSchema, type FlowParams, flowFamily } from "./flow.ts";

export const OpenUniConfigSchema = z
  .object({
    /** Connector transformer (width = the backbone's): OpenUni uses a few layers. */
    connector: z
      .object({
        depth: z.number().int().min(1).default(2),
        heads: z.number().int().positive().default(4),
        mlpRatio: z.number().int().positive().default(2),
      })
      .strict()
      .prefault({}),
    /** The diffusion generator the connector feeds (the flow family's config). */
    generator: FlowConfigSchema.prefault({}),
  })
  .strict();
export type OpenUniConfig = z.infer<typeof OpenUniConfigSchema>;

export type OpenUniParams = {
  connector: { blocks: BlockParams[]; norm: LayerNormParams };
  generator: FlowParams;
};

/** The connector's output for a condition (same shape, valid kept). Consumes p and cond. */
export function connect(p: OpenUniParams["connector"], cond: Condition, heads: number): Condition {
  const mask = keyPaddingMask(cond.valid.ref);
  const h = applyBlocks(p.blocks, cond.states, heads, mask);
  return { states: layerNorm(p.norm, h), valid: cond.valid };
}

export function openUniFamily(
  cfg: OpenUniConfig,
  conditionDim: number,
): GenerationFamily<OpenUniParams> & { name: "openuni" } {
  const flow = flowFamily({ ...cfg.generator, conditionDim });
  const { depth, heads, mlpRatio } = cfg.connector;
  const connectJit = jit((p: OpenUniParams["connector"], states: JaxArray, valid: JaxArray) =>
    connect(p, { states, valid }, heads),
  );
  // Sampling borrows params and conditions (it consumes nothing): the connector runs on refs.
  const connected = (p: OpenUniParams["connector"], c: Condition): Condition =>
    connectJit(
      treeRef(p as unknown as ParamTree) as unknown as OpenUniParams["connector"],
      c.states.ref,
      c.valid.ref,
    ) as Condition;
  return {
    name: "openuni",
    conditionDim,
    imageSize: flow.imageSize,
    inSequence: false,
    sampling: flow.sampling,
    init(key) {
      const [kc, kg] = splitKey(key, 2);
      return {
        connector: {
          blocks: initBlocks(kc, { dim: conditionDim, depth, heads, mlpRatio }),
          norm: initLayerNorm(conditionDim),
        },
        generator: flow.init(kg),
      };
    },
    loss: (params, inputs) =>
      flow.loss(params.generator, {
        ...inputs,
        cond: connect(params.connector, inputs.cond, heads),
      }),
    lossNoise: (rng, n) => flow.lossNoise(rng, n),
    openData: () => flow.openData(),
    async sample(params, r) {
      const cond = connected(params.connector, r.cond);
      const nullCond = connected(params.connector, r.nullCond);
      try {
        return await flow.sample(params.generator, { ...r, cond, nullCond });
      } finally {
        for (const a of [cond.states, cond.valid, nullCond.states, nullCond.valid]) a.dispose();
      }
    },
  };
}
