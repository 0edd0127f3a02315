/**
 * GenEval's prompt templates and metadata lines (prompts/create_prompts.py), word
 * for word: article "an" before a vowel letter (the colour word carries it in
 * colour prompts), plural "+es" after a final "s" else "+s", number words zero…ten,
 * and the clause layout of each tag — note position lists the reference B first
 * and the subject A second with `position: [rel, 0]`.
 */
import { article, type Color, plural, type Relation } from "../../world/vocab.ts";

export const GENEVAL_TAGS = [
  "single_object",
  "two_object",
  "counting",
  "colors",
  "position",
  "color_attr",
] as const;
export type GenevalTag = (typeof GENEVAL_TAGS)[number];

/** GenEval's number words (its prompts use 2–4 only). */
export const GENEVAL_NUMBER_WORDS = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
] as const;

/** A clause: `class` at least `count` times, optionally of `color`, or `position` relative to clause g. */
export type GenevalClause = {
  class: string;
  count: number;
  color?: Color;
  position?: [Relation, number];
};

/** One line of GenEval's evaluation_metadata.jsonl (key order as GenEval writes it). */
export type GenevalMetadata = {
  tag: GenevalTag;
  include: GenevalClause[];
  exclude?: GenevalClause[];
  prompt: string;
};

/** "a circle", "an orange ring": GenEval's article goes with the first word. */
export function withArticle(phrase: string): string {
  return `${article(phrase)} ${phrase}`;
}

export function singleObject(a: string): GenevalMetadata {
  return {
    tag: "single_object",
    include: [{ class: a, count: 1 }],
    prompt: `a photo of ${withArticle(a)}`,
  };
}

export function twoObject(a: string, b: string): GenevalMetadata {
  return {
    tag: "two_object",
    include: [
      { class: a, count: 1 },
      { class: b, count: 1 },
    ],
    prompt: `a photo of ${withArticle(a)} and ${withArticle(b)}`,
  };
}

/** Exactly n: include ≥ n plus exclude ≥ n+1. */
export function counting(a: string, n: number): GenevalMetadata {
  const word = GENEVAL_NUMBER_WORDS[n];
  if (word === undefined) throw new Error(`no GenEval number word for ${n}`);
  return {
    tag: "counting",
    include: [{ class: a, count: n }],
    exclude: [{ class: a, count: n + 1 }],
    prompt: `a photo of ${word} ${plural(a)}`,
  };
}

export function colors(a: string, color: Color): GenevalMetadata {
  return {
    tag: "colors",
    include: [{ class: a, count: 1, color }],
    prompt: `a photo of ${withArticle(`${color} ${a}`)}`,
  };
}

/** "a photo of {a A} {rel} {a B}": B is clause 0, A is clause 1 with position [rel, 0]. */
export function position(a: string, rel: Relation, b: string): GenevalMetadata {
  return {
    tag: "position",
    include: [
      { class: b, count: 1 },
      { class: a, count: 1, position: [rel, 0] },
    ],
    prompt: `a photo of ${withArticle(a)} ${rel} ${withArticle(b)}`,
  };
}

export function colorAttr(a: string, c1: Color, b: string, c2: Color): GenevalMetadata {
  return {
    tag: "color_attr",
    include: [
      { class: a, count: 1, color: c1 },
      { class: b, count: 1, color: c2 },
    ],
    prompt: `a photo of ${withArticle(`${c1} ${a}`)} and ${withArticle(`${c2} ${b}`)}`,
  };
}
