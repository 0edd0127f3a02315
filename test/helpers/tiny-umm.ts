/**
 * A tiny, random-init unified model checkpoint for end-to-end tests of the inference commands:
 * a one-block understanding encoder (2×2 feature grid) and a one-block backbone with a two-level
 * flow U-Net, saved exactly as training would (config.json with the resolved config and the
 * tokenizer's words). Nothing is trained; outputs are noise, shapes and files are real.
 */
import { join } from "node:path";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { initUnderstanding } from "../../src/encoders/understanding.ts";
import { encoderConfig } from "../../src/encoders/understanding-config.ts";
import { checkpointConfig } from "../../src/encoders/understanding-train.ts";
import { saveCheckpoint } from "../../src/engine/checkpoint.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { type ParamTree, treeDispose } from "../../src/engine/tree.ts";
import { resolveUmmConfig } from "../../src/train/pretrain.ts";
import { ummConfig } from "../../src/umm/config.ts";
import { initUmm } from "../../src/umm/model.ts";

export type TinyUmm = { model: string; encoder: string };

/** Write `<root>/encoder` and `<root>/model`; the model's config names the encoder by path. */
export async function writeTinyUmm(
  root: string,
  o: { numCategories?: number; conditionLen?: number } = {},
): Promise<TinyUmm> {
  await initEngine();
  const encoder = join(root, "encoder");
  const ecfg = encoderConfig({
    model: {
      vit: { dim: 16, depth: 1, heads: 2, mlpRatio: 1 },
      text: { dim: 16, depth: 1, heads: 2, mlpRatio: 1 },
      embedDim: 16,
      bottleneck: 2,
    },
  });
  const ep = initUnderstanding(0, ecfg) as unknown as ParamTree;
  await saveCheckpoint(encoder, { params: ep, config: checkpointConfig(ecfg) });
  treeDispose(ep);

  const model = join(root, "model");
  const cfg = resolveUmmConfig(
    ummConfig({
      encoder,
      backbone: { dim: 16, depth: 1, heads: 2, mlpRatio: 1, maxLen: 64 },
      generator: {
        family: "flow",
        channels: [8, 16],
        embDim: 16,
        heads: 2,
        groups: 4,
        sampleSteps: 2,
      },
      sequence: { conditionLen: o.conditionLen ?? 64, textLen: 32 },
      data: { numCategories: o.numCategories ?? 6 },
    }),
  );
  const params = initUmm(0, cfg) as unknown as ParamTree;
  const tokenizer = Tokenizer.world(cfg.backbone.vocabVersion).toJSON();
  await saveCheckpoint(model, { params, config: { ...cfg, tokenizer } });
  treeDispose(params);
  return { model, encoder };
}
