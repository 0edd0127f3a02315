/**
 * Tiny, untrained stand-ins for tests: a random-init understanding encoder checkpoint and a tiny
 * unified-model config that reads it. Nothing here is trained; tests check plumbing, shapes and
 * determinism, and short runs check that losses fall.
 */
import { join } from "node:path";
import { initUnderstanding } from "../../src/encoders/understanding.ts";
import { encoderConfig } from "../../src/encoders/understanding-config.ts";
import { checkpointConfig } from "../../src/encoders/understanding-train.ts";
import { saveCheckpoint } from "../../src/engine/checkpoint.ts";
import type { ParamTree } from "../../src/engine/tree.ts";
import { resolveUmmConfig } from "../../src/train/pretrain.ts";
import { type ResolvedUmmConfig, ummConfig } from "../../src/umm/config.ts";

export const TINY_ENCODER = encoderConfig({
  model: {
    stem: [{ channels: 8, stride: 2 }],
    vit: { dim: 16, depth: 1, heads: 2, mlpRatio: 1 },
    text: { dim: 16, depth: 1, heads: 2, mlpRatio: 1 },
    embedDim: 16,
    bottleneck: 2,
  },
});

/** Save a random-init encoder in `dir` (the engine must be initialised). */
export async function writeTinyEncoder(dir: string): Promise<string> {
  const params = initUnderstanding(0, TINY_ENCODER) as unknown as ParamTree;
  await saveCheckpoint(dir, { params, config: checkpointConfig(TINY_ENCODER) });
  return dir;
}

/** A tiny unified model on the tiny encoder in `encoderDir`. */
export function tinyUmmConfig(
  encoderDir: string,
  over: Record<string, unknown> = {},
): ResolvedUmmConfig {
  return resolveUmmConfig(
    ummConfig({
      encoder: encoderDir,
      backbone: { dim: 16, depth: 1, heads: 2, mlpRatio: 2, maxLen: 112 },
      generator: {
        family: "flow",
        channels: [8, 16],
        embDim: 16,
        heads: 2,
        groups: 4,
        selfAttention: [8],
        crossAttention: [8],
        sampleSteps: 2,
      },
      sequence: { conditionLen: 24, textLen: 112 },
      train: { steps: 3, batch: 4, warmupSteps: 1, checkpointEvery: 3, emaDecay: 0.9 },
      ...over,
    }),
  );
}

export const encoderDirIn = (tmp: string) => join(tmp, "encoder");
