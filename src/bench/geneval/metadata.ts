/**
 * GenEval metadata files (JSONL, one item per line, as evaluation_metadata.jsonl)
 * read and validated with zod. Classes must be active world categories
 * (`reca world vocab`) and colours GenEval's ten; errors name the file, the line
 * and the field.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { COLORS, RELATIONS } from "../../world/vocab.ts";
import { LayoutError } from "../layout.ts";
import { GENEVAL_TAGS, type GenevalMetadata } from "./templates.ts";

const clause = z.object({
  class: z.string().min(1),
  count: z.number().int().min(1),
  color: z.enum(COLORS).optional(),
  position: z.tuple([z.enum(RELATIONS), z.number().int().min(0)]).optional(),
});

const metadataSchema = z.object({
  tag: z.enum(GENEVAL_TAGS),
  include: z.array(clause).min(1),
  exclude: z.array(clause).optional(),
  prompt: z.string().min(1),
});

function issues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

/** Validate one metadata object; `where` prefixes every error ("file:line"). */
export function parseGenevalMetadata(
  value: unknown,
  where: string,
  categories: readonly string[],
): GenevalMetadata {
  const r = metadataSchema.safeParse(value);
  if (!r.success) throw new LayoutError(`${where}: ${issues(r.error)}`);
  const m = r.data;
  const bad = (path: string, msg: string) => new LayoutError(`${where}: ${path}: ${msg}`);
  const checkClass = (c: { class: string }, path: string) => {
    if (!categories.includes(c.class))
      throw bad(
        `${path}.class`,
        `"${c.class}" is not an active world category (${categories.join(", ")}); see \`reca world vocab\``,
      );
  };
  m.include.forEach((c, i) => {
    checkClass(c, `include.${i}`);
    if (c.position && c.position[1] >= i)
      throw bad(`include.${i}.position`, `group ${c.position[1]} must name an earlier clause`);
  });
  (m.exclude ?? []).forEach((c, i) => {
    checkClass(c, `exclude.${i}`);
    if (c.color || c.position)
      throw bad(
        `exclude.${i}`,
        "exclude clauses take only class and count (GenEval ignores the rest)",
      );
  });
  // GenEval's key order: tag, include, exclude, prompt.
  return {
    tag: m.tag,
    include: m.include,
    ...(m.exclude ? { exclude: m.exclude } : {}),
    prompt: m.prompt,
  };
}

/** Parse GenEval-format JSONL text (blank lines skipped). */
export function parseGenevalJsonl(
  text: string,
  file: string,
  categories: readonly string[],
): GenevalMetadata[] {
  const out: GenevalMetadata[] = [];
  text.split("\n").forEach((line, k) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new LayoutError(`${file}:${k + 1}: not valid JSON (${(e as Error).message})`);
    }
    out.push(parseGenevalMetadata(value, `${file}:${k + 1}`, categories));
  });
  if (out.length === 0) throw new LayoutError(`${file}: no metadata lines`);
  return out;
}

export function readGenevalPrompts(file: string, categories: readonly string[]): GenevalMetadata[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new LayoutError(`${file}: cannot read (${(e as Error).message})`);
  }
  return parseGenevalJsonl(text, file, categories);
}

/** One JSON object per line, GenEval's evaluation_metadata.jsonl format. */
export function genevalJsonl(items: readonly GenevalMetadata[]): string {
  return items.map((m) => `${JSON.stringify(m)}\n`).join("");
}
