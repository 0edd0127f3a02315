/** Every primitive's ONNX mapping, by jax-js primitive name. */
import type { Rule } from "../rule.ts";
import { convRules } from "./conv.ts";
import { dotRules } from "./dot.ts";
import { elementwiseRules } from "./elementwise.ts";
import { gatherRules } from "./gather.ts";
import { reduceRules } from "./reduce.ts";
import { structuralRules } from "./structural.ts";

export const conversionRules: Record<string, Rule> = {
  ...elementwiseRules,
  ...structuralRules,
  ...reduceRules,
  ...dotRules,
  ...convRules,
  ...gatherRules,
};
