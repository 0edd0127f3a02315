/**
 * The edit-mini suite behind one BenchSuite. Layout: as GenEval's, plus the
 * input image `<root>/<00000>/source.png`; metadata.jsonl holds the EditItem
 * (kind, instruction, object, where, source and target scenes). An editor reads
 * source.png and the instruction and writes samples/00000.png.
 */

import { z } from "zod";
import { EDIT_KINDS } from "../../world/edits.ts";
import { renderImage } from "../../world/render.ts";
import { RELATIONS } from "../../world/vocab.ts";
import { sceneSchema, zodMessage } from "../dpg/metadata.ts";
import { type BenchSuite, LayoutError } from "../layout.ts";
import { DIRECTIONS, type EditItem } from "./items.ts";
import { type EditResult, FAILED_EDIT, scoreEditImage } from "./score.ts";
import { summarizeEdit } from "./summary.ts";

export * from "./items.ts";
export * from "./quality.ts";
export * from "./score.ts";
export * from "./summary.ts";

export const SOURCE_FILE = "source.png";

const editSchema = z.object({
  suite: z.literal("edit"),
  id: z.string().min(1),
  kind: z.enum(EDIT_KINDS),
  instruction: z.string().min(1),
  object: z.number().int().min(0),
  where: z
    .union([
      z.object({ relation: z.enum(RELATIONS), anchor: z.number().int().min(0) }),
      z.object({ direction: z.enum(DIRECTIONS) }),
    ])
    .optional(),
  source: sceneSchema,
  target: sceneSchema,
});

export function parseEditMetadata(value: unknown, where: string): EditItem {
  const r = editSchema.safeParse(value);
  if (!r.success) throw new LayoutError(`${where}: ${zodMessage(r.error)}`);
  const item = r.data;
  const inScene = item.kind === "add" ? item.target : item.source;
  if (item.object >= inScene.objects.length)
    throw new LayoutError(
      `${where}: object: ${item.object} is not an object of the ${item.kind === "add" ? "target" : "source"} scene`,
    );
  if (item.where && "anchor" in item.where && item.where.anchor >= item.source.objects.length)
    throw new LayoutError(`${where}: where.anchor: no source object ${item.where.anchor}`);
  return item;
}

export function editSuite(): BenchSuite<EditItem, EditResult> {
  return {
    name: "edit",
    groupKey: "types",
    parseMetadata: parseEditMetadata,
    groundTruth: (item) => item.target,
    inputs: (item, size) => [{ name: SOURCE_FILE, image: renderImage(item.source, { size }) }],
    scoreImage: scoreEditImage,
    failedResult: () => ({ ...FAILED_EDIT }),
    summarize: summarizeEdit,
  };
}
