/**
 * Validation of DPG-mini item metadata (and the scene schema the edit suite
 * shares): what `--images DIR` reads back from each folder's metadata.jsonl.
 */
import { z } from "zod";
import type { Scene } from "../../world/scene.ts";
import { ALL_CATEGORIES, COLORS, MAX_OBJECTS, RELATIONS, SIZES } from "../../world/vocab.ts";
import { LayoutError } from "../layout.ts";
import type { DpgItem } from "./prompts.ts";

export const sceneSchema = z.object({
  objects: z
    .array(
      z.object({
        category: z.enum(ALL_CATEGORIES),
        color: z.enum(COLORS),
        size: z.enum(SIZES),
        x: z.number().min(0).max(1),
        y: z.number().min(0).max(1),
        radius: z.number().positive().max(0.5),
      }),
    )
    .min(1)
    .max(MAX_OBJECTS),
});

const group = z.object({
  category: z.enum(ALL_CATEGORIES),
  color: z.enum(COLORS),
  count: z.number().int().min(1),
});

const check = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("exists"), category: z.enum(ALL_CATEGORIES) }),
  z.object({ kind: z.literal("color"), category: z.enum(ALL_CATEGORIES), color: z.enum(COLORS) }),
  z.object({
    kind: z.literal("count"),
    category: z.enum(ALL_CATEGORIES),
    color: z.enum(COLORS),
    count: z.number().int().min(0),
  }),
  z.object({ kind: z.literal("total"), count: z.number().int().min(0) }),
  z.object({
    kind: z.literal("relation"),
    subject: group,
    relation: z.enum(RELATIONS),
    reference: group,
  }),
  z.object({ kind: z.literal("background") }),
]);

const dpgSchema = z.object({
  suite: z.literal("dpg"),
  id: z.string().min(1),
  prompt: z.string().min(1),
  scene: sceneSchema,
  questions: z
    .array(
      z.object({
        id: z.number().int().min(1),
        tuple: z.string().regex(/^\w+ - [\w ]+ \(.*\)$/, 'expected "<L1> - <L2> (args)"'),
        question: z.string().min(1),
        parents: z.array(z.number().int().min(0)),
        check,
      }),
    )
    .min(1),
});

export function zodMessage(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

export function parseScene(value: unknown, where: string): Scene {
  const r = sceneSchema.safeParse(value);
  if (!r.success) throw new LayoutError(`${where}: ${zodMessage(r.error)}`);
  return r.data;
}

export function parseDpgMetadata(value: unknown, where: string): DpgItem {
  const r = dpgSchema.safeParse(value);
  if (!r.success) throw new LayoutError(`${where}: ${zodMessage(r.error)}`);
  const item = r.data;
  item.questions.forEach((q, k) => {
    if (q.id !== k + 1)
      throw new LayoutError(
        `${where}: questions.${k}.id: expected ${k + 1} (ids run 1, 2, … in order)`,
      );
    for (const p of q.parents)
      if (p !== 0 && p > item.questions.length)
        throw new LayoutError(`${where}: questions.${k}.parents: no question ${p}`);
  });
  return item;
}
