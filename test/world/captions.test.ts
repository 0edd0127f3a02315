import { describe, expect, it } from "vitest";
import { denseCaption, sparseCaption } from "../../src/world/captions.ts";
import { referringExpressions } from "../../src/world/phrases.ts";
import { WorldRng } from "../../src/world/random.ts";
import { relationsBetween, sampleScene } from "../../src/world/scene.ts";
import { COLORS, NUMBER_WORDS, plural, RELATIONS, VAGUE_COUNTS } from "../../src/world/vocab.ts";
import { vqaQuestions } from "../../src/world/vqa.ts";

describe("dense captions", () => {
  it("mention every object with its colour and count, and every pair", () => {
    const rng = new WorldRng(4);
    const phrasings = new Set<string>();
    for (let k = 0; k < 300; k++) {
      const scene = sampleScene(rng, { sameCategoryProb: 0.5 });
      const text = denseCaption(scene, rng).toLowerCase();
      phrasings.add(text.split(" ").slice(0, 2).join(" "));
      for (const o of scene.objects) {
        const same = scene.objects.filter((p) => p.color === o.color && p.category === o.category);
        const phrase =
          same.length === 1
            ? `${o.color} ${o.category}`
            : `${NUMBER_WORDS[same.length]} ${o.color} ${plural(o.category)}`;
        expect(text, text).toContain(phrase);
      }
      const n = scene.objects.length;
      // One sentence for the inventory plus one per unordered pair.
      expect(text.split(". ").length).toBe(1 + (n * (n - 1)) / 2);
      if (n === 2) {
        const rels = relationsBetween(scene, 0, 1);
        if (rels.length === 1)
          expect(text).toMatch(new RegExp(`${rels[0]}|${oppositeOf(rels[0])}`));
      }
    }
    expect(phrasings.size).toBeGreaterThanOrEqual(4);
  });
});

function oppositeOf(r: string): string {
  return { "left of": "right of", "right of": "left of", above: "below", below: "above" }[r]!;
}

describe("sparse captions", () => {
  it("state relations at rate ≈ pPos when two single objects are mentioned", () => {
    const rng = new WorldRng(15);
    let eligible = 0;
    let withRel = 0;
    for (let k = 0; k < 3000; k++) {
      const scene = sampleScene(rng, { countWeights: [0, 1], sameCategoryProb: 0 });
      const c = sparseCaption(scene, rng, { pMention: 1 });
      if (!c.relationEligible) continue;
      eligible++;
      if (c.relation) withRel++;
    }
    expect(eligible).toBeGreaterThan(2000);
    expect(withRel / eligible).toBeGreaterThan(0.08);
    expect(withRel / eligible).toBeLessThan(0.12);
  });

  it("name colours at rate ≈ pColor, and stay true", () => {
    const rng = new WorldRng(5);
    let named = 0;
    let mentioned = 0;
    let eligible = 0;
    let withRel = 0;
    const texts = new Set<string>();
    for (let k = 0; k < 2500; k++) {
      const scene = sampleScene(rng, { colorPrior: "biased" });
      const c = sparseCaption(scene, rng);
      texts.add(c.text);
      mentioned += c.colorNamed.length;
      named += c.colorNamed.filter(Boolean).length;
      if (c.relationEligible) {
        eligible++;
        if (c.relation) withRel++;
      }
      for (const g of c.groups) {
        const members = scene.objects.filter(
          (o) => o.category === g.category && (g.color === null || o.color === g.color),
        );
        expect(members.length).toBe(g.count);
        if (g.count === 1) expect(g.countWord).toBe("one");
        else if (g.countWord in VAGUE_COUNTS) {
          const [lo, hi] = VAGUE_COUNTS[g.countWord];
          expect(g.count >= lo && g.count <= hi).toBe(true);
        } else expect(g.countWord).toBe(NUMBER_WORDS[g.count]);
        expect(c.text).toContain(g.category);
      }
      if (c.relation) {
        const { subject, relation, reference } = c.relation;
        expect(relationsBetween(scene, subject, reference)).toContain(relation);
        expect(c.text).toContain(relation);
      } else for (const r of RELATIONS) expect(c.text).not.toContain(r);
      const colorWords = COLORS.filter((col) => new RegExp(`\\b${col}\\b`).test(c.text));
      for (const col of colorWords) expect(scene.objects.some((o) => o.color === col)).toBe(true);
      if (c.colorNamed.every((x) => !x)) expect(colorWords).toEqual([]);
    }
    expect(named / mentioned).toBeGreaterThan(0.23);
    expect(named / mentioned).toBeLessThan(0.27);
    expect(withRel / eligible).toBeGreaterThan(0.04);
    expect(withRel / eligible).toBeLessThan(0.16);
    expect(texts.size).toBeGreaterThan(500);
  });

  it("follow the configured rates", () => {
    const rng = new WorldRng(6);
    let named = 0;
    let mentioned = 0;
    for (let k = 0; k < 300; k++) {
      const c = sparseCaption(sampleScene(rng), rng, { pColor: 1, pMention: 1 });
      named += c.colorNamed.filter(Boolean).length;
      mentioned += c.colorNamed.length;
    }
    expect(named).toBe(mentioned);
  });
});

describe("VQA", () => {
  it("asks answerable questions of every type, with vocabulary answers", () => {
    const rng = new WorldRng(7);
    const types = new Map<string, number>();
    const answers = new Set<string>();
    for (let k = 0; k < 300; k++) {
      const scene = sampleScene(rng);
      const qs = vqaQuestions(scene, rng, { n: 4 });
      expect(new Set(qs.map((q) => q.question)).size).toBe(qs.length);
      for (const q of qs) {
        types.set(q.type, (types.get(q.type) ?? 0) + 1);
        const objs = scene.objects;
        if (q.type === "count") {
          expect(NUMBER_WORDS as readonly string[]).toContain(q.answer);
          const m = q.question.match(/^how many (\w+) (\w+)? ?are there\?$/);
          if (q.question === "how many objects are there?")
            expect(q.answer).toBe(NUMBER_WORDS[objs.length]);
          else if (m && !m[2] && (COLORS as readonly string[]).includes(m[1]) === false) {
            const cat = objs.find((o) => plural(o.category) === m[1])?.category;
            const n = cat ? objs.filter((o) => o.category === cat).length : 0;
            expect(q.answer).toBe(NUMBER_WORDS[n]);
          }
        }
        if (q.type === "color") {
          const cat = objs.find((o) => q.question.includes(` ${o.category}?`))!.category;
          expect(objs.filter((o) => o.category === cat).map((o) => o.color)).toContain(q.answer);
        }
        if (q.type === "category") expect(objs.map((o) => o.category)).toContain(q.answer);
        if (q.type === "position") {
          // Resolve the two references and recompute the answer.
          const refs = objs.map((_, i) => referringExpressions(scene, i));
          let checked = false;
          for (let i = 0; i < objs.length; i++)
            for (let j = 0; j < objs.length; j++)
              for (const a of refs[i])
                for (const b of refs[j]) {
                  const rels = relationsBetween(scene, i, j);
                  if (q.question === `where is ${a} relative to ${b}?`) {
                    expect(rels).toEqual([q.answer]);
                    checked = true;
                  }
                  for (const r of RELATIONS)
                    if (q.question === `is ${a} ${r} ${b}?`) {
                      expect(q.answer).toBe(rels.includes(r) ? "yes" : "no");
                      checked = true;
                    }
                }
          expect(checked, q.question).toBe(true);
          answers.add(q.answer === "yes" || q.answer === "no" ? q.answer : "where");
        }
      }
    }
    for (const t of ["category", "color", "count", "position"])
      expect(types.get(t) ?? 0).toBeGreaterThan(100);
    expect([...answers].sort()).toEqual(["no", "where", "yes"]);
  });
});
