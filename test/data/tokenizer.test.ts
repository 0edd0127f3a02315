import { describe, expect, it } from "vitest";
import { dpgPromptSet } from "../../src/bench/dpg/prompts.ts";
import { editItemSet } from "../../src/bench/edit/items.ts";
import { genevalPromptSet } from "../../src/bench/geneval/prompts.ts";
import { undItemSet } from "../../src/bench/und/index.ts";
import { encoderCorpus, ummCorpus } from "../../src/data/corpora.ts";
import {
  BOS_ID,
  EOS_ID,
  IMG_ID,
  LATEST_VOCAB_VERSION,
  normalizeText,
  PAD_ID,
  SEP_ID,
  Tokenizer,
  UNK_ID,
  VOCAB_CAPACITY,
  vocabWords,
} from "../../src/data/tokenizer.ts";
import {
  ALL_CATEGORIES,
  denseCaption,
  EDIT_KINDS,
  makeEdit,
  sampleScene,
  sparseCaption,
  vqaQuestions,
  WorldRng,
} from "../../src/world/index.ts";

const tok = Tokenizer.world();

/** Every text the world and the benchmarks emit, from many scenes. */
function worldTexts(n: number): string[] {
  const out: string[] = [];
  const categories = ALL_CATEGORIES; // all ten, so later worlds are covered too
  for (let i = 0; i < n; i++) {
    const rng = WorldRng.fromParts("test/tokenizer", i);
    const scene = sampleScene(rng, { categories });
    out.push(denseCaption(scene, rng), sparseCaption(scene, rng).text);
    for (const q of vqaQuestions(scene, rng, { n: 8, categories })) out.push(q.question, q.answer);
    for (const k of EDIT_KINDS) {
      const e = makeEdit(rng, k, scene, { categories });
      if (e) out.push(e.instruction);
    }
  }
  return out;
}

describe("tokenizer", () => {
  it("covers every caption, question, answer and edit instruction", () => {
    const unknown = new Set<string>();
    for (const t of worldTexts(600)) for (const w of tok.unknownWords(t)) unknown.add(w);
    expect([...unknown]).toEqual([]);
  });

  it("covers the corpora and every benchmark prompt and question", () => {
    const texts: string[] = [];
    const enc = encoderCorpus({ length: 300 });
    const umm = ummCorpus({ length: 300 });
    for (let i = 0; i < 300; i++) {
      texts.push(enc.get(i).caption);
      const u = umm.get(i);
      if (u.kind === "caption") texts.push(u.caption);
      else if (u.kind === "vqa") texts.push(u.question, u.answer);
      else texts.push(u.instruction);
    }
    for (const m of genevalPromptSet({ numCategories: 10 })) texts.push(m.prompt);
    for (const d of dpgPromptSet({ numCategories: 10 }))
      texts.push(d.prompt, ...d.questions.map((q) => q.question));
    for (const e of editItemSet({ numCategories: 10 })) texts.push(e.instruction);
    for (const u of undItemSet({ numCategories: 10 }))
      for (const q of u.questions) texts.push(q.question, q.answer);
    const unknown = new Set(texts.flatMap((t) => tok.unknownWords(t)));
    expect([...unknown]).toEqual([]);
  });

  it("round-trips world text to its lower-case form", () => {
    for (const t of worldTexts(100)) {
      expect(tok.decode(tok.encode(t, { bos: true, eos: true }))).toBe(t.toLowerCase());
      expect(normalizeText(t)).toBe(t.toLowerCase());
    }
    const s = "Three objects: a red circle, two blue squares. Is the ring left of the star?";
    expect(tok.encode(s).includes(UNK_ID)).toBe(false);
    expect(tok.decode(tok.encode(s))).toBe(s.toLowerCase());
  });

  it("maps unknown words to <unk> and keeps special ids fixed", () => {
    expect([PAD_ID, BOS_ID, EOS_ID, UNK_ID, IMG_ID, SEP_ID].map((i) => tok.token(i))).toEqual([
      "<pad>",
      "<bos>",
      "<eos>",
      "<unk>",
      "<img>",
      "<sep>",
    ]);
    expect(tok.encode("a zebra")).toEqual([tok.id("a"), UNK_ID]);
    expect(tok.decode([tok.id("a"), UNK_ID], { keepSpecial: true })).toBe("a <unk>");
    expect(tok.size).toBeLessThanOrEqual(VOCAB_CAPACITY);
    expect(new Set(tok.words).size).toBe(tok.size);
  });

  it("pads, masks and truncates batches", () => {
    const b = tok.encodeBatch(["a red circle.", "two blue squares and a green ring."], 6, {
      bos: true,
      eos: true,
    });
    expect(b.lengths).toEqual(new Int32Array([6, 6]));
    expect(b.truncated).toBe(1);
    expect([...b.ids.slice(0, 6)]).toEqual([
      BOS_ID,
      tok.id("a"),
      tok.id("red"),
      tok.id("circle"),
      tok.id("."),
      EOS_ID,
    ]);
    expect(b.ids[11]).toBe(EOS_ID);
    const c = tok.encodeBatch(["a ring"], 5, { bos: true, eos: true });
    expect([...c.ids]).toEqual([BOS_ID, tok.id("a"), tok.id("ring"), EOS_ID, PAD_ID]);
    expect([...c.mask]).toEqual([1, 1, 1, 1, 0]);
  });

  it("is versioned: saved word lists reload and must match the built-in version", () => {
    expect(vocabWords(1)).toEqual(vocabWords(1));
    expect(vocabWords(LATEST_VOCAB_VERSION).slice(0, vocabWords(1).length)).toEqual(vocabWords(1));
    const j = tok.toJSON();
    expect(Tokenizer.fromJSON(j).words).toEqual(tok.words);
    expect(() => Tokenizer.fromJSON({ ...j, words: [...j.words].reverse() })).toThrow(/differs/);
    expect(() => vocabWords(LATEST_VOCAB_VERSION + 1)).toThrow();
  });
});
