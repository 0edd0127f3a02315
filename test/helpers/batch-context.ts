/** A batch context from parts a test already holds (openBatchContext loads its own). */
import type { Tokenizer } from "../../src/data/tokenizer.ts";
import type { BatchContext } from "../../src/umm/batch.ts";
import type { ResolvedUmmConfig } from "../../src/umm/config.ts";
import type { FeatureSource } from "../../src/umm/features.ts";
import { familyOf } from "../../src/umm/model.ts";

export function batchContext(
  cfg: ResolvedUmmConfig,
  tokenizer: Tokenizer,
  encoder: FeatureSource,
): BatchContext {
  const family = familyOf(cfg);
  return { cfg, tokenizer, encoder, family, familyData: family.openData() };
}
