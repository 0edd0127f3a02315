import { describe, expect, it } from "vitest";
import { Tokenizer, VOCAB_ADDITIONS, VOCAB_CAPACITY } from "../../src/data/tokenizer.ts";
import { Rng } from "../../src/engine/rng.ts";
import {
  drawTemplate,
  MAX_TEMPLATE_TOKENS,
  RECON_TEMPLATES,
  type ReconTemplate,
  SINGLE_TEMPLATE,
  type TemplateStyle,
  templateParts,
  templateText,
} from "../../src/train/templates.ts";
import { IMAGE } from "../../src/umm/sequence.ts";

const tok = Tokenizer.world();
const STYLES: TemplateStyle[] = ["audit", "keywords", "request", "question", "command"];

function checkTemplate(t: ReconTemplate): void {
  expect(t.parts.filter((p) => p === IMAGE)).toHaveLength(1);
  for (const p of t.parts) if (p !== IMAGE) expect(typeof p).toBe("string");
  const text = templateText(t);
  expect(text.length).toBeGreaterThan(0);
  expect(tok.unknownWords(text), `${t.id}: "${text}"`).toEqual([]);
  expect(tok.encode(text).length, t.id).toBeLessThanOrEqual(MAX_TEMPLATE_TOKENS);
}

describe("reconstruction templates", () => {
  it("has at least 110 templates with unique ids and texts", () => {
    expect(RECON_TEMPLATES.length).toBeGreaterThanOrEqual(110);
    expect(new Set(RECON_TEMPLATES.map((t) => t.id)).size).toBe(RECON_TEMPLATES.length);
    const texts = RECON_TEMPLATES.map((t) => tok.decode(tok.encode(templateText(t))));
    expect(new Set(texts).size).toBe(RECON_TEMPLATES.length);
  });

  it("each has one image slot, encodes without <unk> and fits the token budget", () => {
    for (const t of RECON_TEMPLATES) checkTemplate(t);
    checkTemplate(SINGLE_TEMPLATE);
    expect(MAX_TEMPLATE_TOKENS).toBeLessThanOrEqual(30);
  });

  it("covers every style at least 10 times and puts the image in varied places", () => {
    for (const s of STYLES)
      expect(RECON_TEMPLATES.filter((t) => t.style === s).length, s).toBeGreaterThanOrEqual(10);
    const first = RECON_TEMPLATES.filter((t) => t.parts[0] === IMAGE).length;
    expect(first).toBeGreaterThan(RECON_TEMPLATES.length / 2);
    expect(first).toBeLessThan(RECON_TEMPLATES.length);
    expect(RECON_TEMPLATES.some((t) => t.parts.at(-1) === IMAGE)).toBe(true);
  });

  it("keeps the vocabulary within capacity", () => {
    expect(tok.size).toBeLessThanOrEqual(VOCAB_CAPACITY);
    const v2 = VOCAB_ADDITIONS[2];
    expect(v2.slice(0, 3)).toEqual(["generate", "describe", "detail"]);
    expect(new Set(v2).size).toBe(v2.length);
    expect(Tokenizer.world(1).size + v2.length).toBe(Tokenizer.world(2).size);
  });

  it("draws deterministically per seed and covers many templates", () => {
    const ids = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 2000 }, () => drawTemplate(rng).id);
    };
    const a = ids(7);
    expect(ids(7)).toEqual(a);
    expect(ids(8)).not.toEqual(a);
    const counts = new Map<string, number>();
    for (const id of a) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(counts.size).toBeGreaterThanOrEqual(Math.floor(RECON_TEMPLATES.length * 0.95));
    // uniform: expected 2000 / N ≈ 16 per template; none wildly over
    for (const c of counts.values()) expect(c).toBeLessThan(50);

    const r1 = new Rng(3);
    const r2 = new Rng(3);
    for (let i = 0; i < 50; i++) expect(templateParts(r1)).toBe(drawTemplate(r2).parts);
  });

  it("the single-template ablation always returns the fixed template", () => {
    const rng = new Rng(1);
    for (let i = 0; i < 20; i++)
      expect(templateParts(rng, { single: true })).toBe(SINGLE_TEMPLATE.parts);
  });
});
