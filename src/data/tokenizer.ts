/**
 * A word-level tokenizer over the world's closed vocabulary. Every caption, question, edit
 * instruction and benchmark prompt is built from a few hundred words (src/world/vocab.ts plus
 * the templates in captions/vqa/edits and the bench prompt builders), so word tokens are exact,
 * short and interpretable; BPE would only lengthen sequences.
 *
 * Text is lower-cased and punctuation (. , : ? ! ;) becomes its own token, so
 * `decode(encode(s))` gives back `normalizeText(s)`: for world text, `s.toLowerCase()`.
 *
 * The vocabulary is versioned and append-only: version v is version v-1 plus `VOCAB_ADDITIONS[v]`,
 * so a token id never changes meaning and a model trained on an older version reads newer text
 * (new words map to `<unk>` in the old model's table, or to untrained rows if the table was sized
 * with `VOCAB_CAPACITY`). Checkpoints store the full word list (`tokenizer.toJSON()`), and
 * `Tokenizer.fromJSON` checks it against the built-in version of the same number.
 * To add words for a new template family: append a `VOCAB_ADDITIONS` entry, bump nothing else.
 */
import {
  ALL_CATEGORIES,
  COLORS,
  NUMBER_WORDS,
  plural,
  RELATIONS,
  SIZES,
  VAGUE_WORDS,
} from "../world/vocab.ts";

/**
 * Special tokens, in id order. `<img>` marks an image-feature slot in a UMM sequence (RecA splices
 * understanding features there); `<boi>`/`<eoi>` bracket generated image tokens; `<sep>` separates
 * segments (e.g. instruction and answer); `<mask>` is for masked-token objectives.
 */
export const SPECIAL_TOKENS = [
  "<pad>",
  "<bos>",
  "<eos>",
  "<unk>",
  "<img>",
  "<sep>",
  "<boi>",
  "<eoi>",
  "<mask>",
] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
export const IMG_ID = 4;
export const SEP_ID = 5;

/** Punctuation split off as separate tokens; decode attaches it to the previous word. */
export const PUNCTUATION = [".", ",", ":", "?", "!", ";"] as const;
const PUNCT_RE = /([.,:?!;])/g;

/** Suggested embedding-table size: room for later vocabulary versions without reshaping. */
export const VOCAB_CAPACITY = 512;

/** Words of the templates in src/world (captions, VQA, edits) and src/bench (prompts, questions). */
const TEMPLATE_WORDS = [
  // articles, connectives, copulas
  "a",
  "an",
  "the",
  "and",
  "of",
  "to",
  "in",
  "on",
  "with",
  "for",
  "into",
  "is",
  "are",
  "there",
  "all",
  "other",
  "one",
  // dense / sparse captions, dpg and geneval prompts
  "object",
  "objects",
  "image",
  "picture",
  "photo",
  "gray",
  "background",
  "plain",
  "drawn",
  "shapes",
  "shape",
  "next",
  "sits",
  "appears",
  "total",
  "exactly",
  // relation words
  "left",
  "right",
  "above",
  "below",
  "up",
  "down",
  // questions and answers
  "what",
  "shown",
  "color",
  "how",
  "many",
  "where",
  "relative",
  "yes",
  "no",
  // edit instructions
  "add",
  "put",
  "draw",
  "place",
  "remove",
  "delete",
  "take",
  "away",
  "erase",
  "replace",
  "turn",
  "change",
  "swap",
  "make",
  "paint",
  "recolor",
  "move",
  "shift",
];

/** GenEval's number words go to ten (its prompts use 2–4; the world's stop at four). */
const EXTRA_NUMBER_WORDS = ["five", "six", "seven", "eight", "nine", "ten"];

/** Version 1: the world's vocabulary, its template words and GenEval's number words. */
function baseWords(): string[] {
  const world = [
    ...ALL_CATEGORIES,
    ...ALL_CATEGORIES.map(plural),
    ...COLORS,
    ...SIZES,
    ...RELATIONS.flatMap((r) => r.split(" ")),
    ...NUMBER_WORDS,
    ...EXTRA_NUMBER_WORDS,
    ...VAGUE_WORDS.flatMap((w) => w.split(" ")),
  ];
  return [...world, ...TEMPLATE_WORDS];
}

/**
 * Words each later version appends (key = version). Later issues add their template words here
 * (e.g. RecA's reconstruction templates as version 2).
 */
export const VOCAB_ADDITIONS: Readonly<Record<number, readonly string[]>> = {
  /**
   * The unified model's fixed prompts ("generate an image.", "describe the image in detail."),
   * then the words of RecA's reconstruction templates (src/train/templates.ts).
   */
  2: [
    "generate",
    "describe",
    "detail",
    "list",
    "every",
    "its",
    "size",
    "it",
    "name",
    "each",
    "position",
    "give",
    "count",
    "then",
    "note",
    "go",
    "through",
    "record",
    "check",
    "from",
    "their",
    "colors",
    "sizes",
    "top",
    "bottom",
    "write",
    "you",
    "see",
    "which",
    "near",
    "this",
    "audit",
    "scene",
    "positions",
    "by",
    "location",
    "catalog",
    "they",
    "placed",
    "full",
    "account",
    "over",
    "say",
    "others",
    "state",
    "number",
    "report",
    "frame",
    "examine",
    "closely",
    "first",
    "layout",
    "content",
    "reconstruction",
    "same",
    "exact",
    "copy",
    "places",
    "composition",
    "details",
    "arrangement",
    "reference",
    "identical",
    "redraw",
    "please",
    "recreate",
    "reproduce",
    "as",
    "can",
    "i",
    "would",
    "like",
    "again",
    "just",
    "kindly",
    "here",
    "rebuild",
    "keeping",
    "once",
    "more",
    "want",
    "way",
    "goal",
    "faithfully",
    "aim",
    "faithful",
    "should",
    "be",
    "reconstructed",
    "we",
    "need",
    "look",
    "at",
    "keep",
    "nothing",
    "added",
    "removed",
    "without",
    "changing",
    "anything",
    "task",
    "regenerate",
    "based",
    "matching",
    "me",
    "intent",
    "does",
    "show",
    "do",
    "appear",
    "could",
    "if",
    "drew",
    "sit",
    "arranged",
    "looking",
    "contain",
    "reconstruct",
    "repeat",
    "render",
    "output",
    "input",
    "match",
  ],
};

export const LATEST_VOCAB_VERSION = 1 + Object.keys(VOCAB_ADDITIONS).length;

/** The ordered token list of `version`: specials, punctuation, then words (deduplicated). */
export function vocabWords(version = LATEST_VOCAB_VERSION): string[] {
  if (!Number.isInteger(version) || version < 1 || version > LATEST_VOCAB_VERSION)
    throw new Error(`vocabulary version must be in [1, ${LATEST_VOCAB_VERSION}], got ${version}`);
  const words = [...baseWords()];
  for (let v = 2; v <= version; v++) {
    const add = VOCAB_ADDITIONS[v];
    if (!add) throw new Error(`vocabulary version ${v} has no additions`);
    words.push(...add);
  }
  const out: string[] = [...SPECIAL_TOKENS, ...PUNCTUATION];
  const seen = new Set(out);
  for (const w of words) {
    if (!/^[a-z]+$/.test(w)) throw new Error(`vocabulary word "${w}" is not a lower-case word`);
    if (seen.has(w)) continue;
    seen.add(w);
    out.push(w);
  }
  return out;
}

/** Lower-case, punctuation split off, whitespace-separated pieces. */
export function pretokenize(text: string): string[] {
  return text.toLowerCase().replace(PUNCT_RE, " $1 ").split(/\s+/).filter(Boolean);
}

const PUNCT_SET = new Set<string>(PUNCTUATION);

/** Join tokens with spaces, attaching punctuation to the preceding word. */
export function detokenize(tokens: readonly string[]): string {
  let s = "";
  for (const t of tokens) s += s === "" || PUNCT_SET.has(t) ? t : ` ${t}`;
  return s;
}

/** The canonical form `decode(encode(text))` returns for in-vocabulary text. */
export function normalizeText(text: string): string {
  return detokenize(pretokenize(text));
}

export type EncodeOptions = { bos?: boolean; eos?: boolean };

/** Token ids of many texts, padded (or truncated) to one length. */
export type EncodedBatch = {
  /** int32 [B * maxLen], row-major, `PAD_ID` after the end. */
  ids: Int32Array;
  /** 1 for real tokens, 0 for padding, [B * maxLen]. */
  mask: Float32Array;
  /** Real tokens per row (after truncation). */
  lengths: Int32Array;
  /** Rows that did not fit and were cut (their `<eos>`, if requested, is kept). */
  truncated: number;
  maxLen: number;
};

export type TokenizerJSON = { version: number; words: string[] };

export class Tokenizer {
  readonly words: readonly string[];
  readonly #ids: Map<string, number>;

  constructor(
    readonly version: number,
    words: readonly string[],
  ) {
    SPECIAL_TOKENS.forEach((s, i) => {
      if (words[i] !== s) throw new Error(`token ${i} must be ${s}, got ${words[i]}`);
    });
    this.words = [...words];
    this.#ids = new Map(this.words.map((w, i) => [w, i]));
    if (this.#ids.size !== this.words.length) throw new Error("vocabulary has duplicate tokens");
  }

  /** The built-in vocabulary of `version` (default the latest). */
  static world(version = LATEST_VOCAB_VERSION): Tokenizer {
    return new Tokenizer(version, vocabWords(version));
  }

  /** Rebuild from a checkpoint's JSON; a built-in version must match word for word. */
  static fromJSON(j: TokenizerJSON): Tokenizer {
    if (j.version <= LATEST_VOCAB_VERSION) {
      const builtIn = vocabWords(j.version);
      const same = builtIn.length === j.words.length && builtIn.every((w, i) => w === j.words[i]);
      if (!same)
        throw new Error(`tokenizer: saved vocabulary v${j.version} differs from the built-in one`);
    }
    return new Tokenizer(j.version, j.words);
  }

  toJSON(): TokenizerJSON {
    return { version: this.version, words: [...this.words] };
  }

  get size(): number {
    return this.words.length;
  }

  has(word: string): boolean {
    return this.#ids.has(word);
  }

  id(token: string): number {
    return this.#ids.get(token) ?? UNK_ID;
  }

  token(id: number): string {
    const w = this.words[id];
    if (w === undefined) throw new RangeError(`token id ${id} outside [0, ${this.size})`);
    return w;
  }

  /** Pieces of `text` not in the vocabulary (empty when it encodes without `<unk>`). */
  unknownWords(text: string): string[] {
    return pretokenize(text).filter((t) => !this.#ids.has(t));
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = pretokenize(text).map((t) => this.id(t));
    if (opts.bos) ids.unshift(BOS_ID);
    if (opts.eos) ids.push(EOS_ID);
    return ids;
  }

  /** Ids back to text; special tokens are dropped unless `keepSpecial`. */
  decode(ids: ArrayLike<number>, opts: { keepSpecial?: boolean } = {}): string {
    const toks: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!opts.keepSpecial && id < SPECIAL_TOKENS.length) continue;
      toks.push(this.token(id));
    }
    return detokenize(toks);
  }

  /** Encode and pad to `maxLen` (rows too long are cut, keeping `<eos>` last if requested). */
  encodeBatch(texts: readonly string[], maxLen: number, opts: EncodeOptions = {}): EncodedBatch {
    if (!Number.isInteger(maxLen) || maxLen < 1) throw new Error(`bad maxLen ${maxLen}`);
    const B = texts.length;
    const ids = new Int32Array(B * maxLen); // PAD_ID = 0
    const mask = new Float32Array(B * maxLen);
    const lengths = new Int32Array(B);
    let truncated = 0;
    texts.forEach((t, b) => {
      let row = this.encode(t, opts);
      if (row.length > maxLen) {
        truncated++;
        row = row.slice(0, maxLen);
        if (opts.eos) row[maxLen - 1] = EOS_ID;
      }
      ids.set(row, b * maxLen);
      mask.fill(1, b * maxLen, b * maxLen + row.length);
      lengths[b] = row.length;
    });
    return { ids, mask, lengths, truncated, maxLen };
  }
}
