/**
 * The registry of generation families. Adding a family is a file in this folder (its config
 * schema and its `GenerationFamily`), and one line in `REGISTRY` (docs/DESIGN.md, "Adding a
 * family"). The model config's `generator` block names its family and holds that family's
 * config; it is validated by the family's own schema.
 */
import { z } from "zod";
import type { GenerationFamily } from "../family.ts";
import { FlowConfigSchema, flowFamily } from "./flow.ts";
import { OpenUniConfigSchema, openUniFamily } from "./openuni.ts";

export type FamilySpec = {
  name: string;
  /** The generator block's fields besides `family`; unknown keys are errors. */
  schema: z.ZodType<Record<string, unknown>>;
  /** The family for a parsed block; `conditionDim` is the backbone's width. */
  build(block: Record<string, unknown>, ctx: { conditionDim: number }): GenerationFamily;
};

const flow: FamilySpec = {
  name: "flow",
  schema: FlowConfigSchema as unknown as z.ZodType<Record<string, unknown>>,
  build: (block, ctx) =>
    flowFamily({
      ...(block as z.infer<typeof FlowConfigSchema>),
      conditionDim: ctx.conditionDim,
    }) as unknown as GenerationFamily,
};

const openuni: FamilySpec = {
  name: "openuni",
  schema: OpenUniConfigSchema as unknown as z.ZodType<Record<string, unknown>>,
  build: (block, ctx) =>
    openUniFamily(
      block as z.infer<typeof OpenUniConfigSchema>,
      ctx.conditionDim,
    ) as unknown as GenerationFamily,
};

const REGISTRY = new Map<string, FamilySpec>([
  [flow.name, flow],
  [openuni.name, openuni],
]);

/**
 * Register a family at run time (tests, extensions). A name already taken is an error, so a
 * shipped family can never be replaced by accident.
 */
export function registerFamily(spec: FamilySpec): void {
  if (REGISTRY.has(spec.name)) throw new Error(`family "${spec.name}" is already registered`);
  REGISTRY.set(spec.name, spec);
}

export function registeredFamilies(): string[] {
  return [...REGISTRY.keys()];
}

export function familySpec(name: string): FamilySpec {
  const spec = REGISTRY.get(name);
  if (!spec)
    throw new Error(`unknown generation family "${name}" (registered: ${registeredFamilies()})`);
  return spec;
}

/** A parsed generator block: its family's name and that family's complete config. */
export type GeneratorConfig = { family: string } & Record<string, unknown>;

/**
 * The generator block, a union discriminated by `family` over the registry (looked up when a
 * config is parsed, so families registered later are known).
 */
export const GeneratorConfigSchema = z
  .looseObject({ family: z.string() })
  .transform((v, ctx): GeneratorConfig => {
    const spec = REGISTRY.get(v.family);
    if (!spec) {
      ctx.addIssue({
        code: "custom",
        path: ["family"],
        message: `unknown generation family "${v.family}" (registered: ${registeredFamilies().join(", ")})`,
      });
      return z.NEVER;
    }
    const { family, ...rest } = v;
    const r = spec.schema.safeParse(rest);
    if (!r.success) {
      for (const issue of r.error.issues)
        ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
      return z.NEVER;
    }
    return { family, ...r.data };
  });

/** The family a generator block describes, for a backbone of width `conditionDim`. */
export function buildFamily(g: GeneratorConfig, conditionDim: number): GenerationFamily {
  const { family, ...block } = g;
  return familySpec(family).build(block, { conditionDim });
}
