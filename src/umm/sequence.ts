/**
 * Host-side sequence building for the backbone: prompts, edit instructions, questions and RecA
 * templates become padded token rows with `<img>` slots, and image→text examples get their
 * next-token targets. Everything here is plain host arrays; batches reach the device through the
 * train step (`toDevice`, src/engine/train-step.ts), inference through src/umm/infer.ts.
 *
 * A row is written as parts: strings (encoded with the word tokenizer) and `IMAGE` (the R feature
 * tokens of that row's image, as R consecutive `<img>` positions). Rows start with `<bos>`.
 */
import { BOS_ID, EOS_ID, IMG_ID, SEP_ID, type Tokenizer } from "../data/tokenizer.ts";
import type { HostArray } from "../engine/train-step.ts";

/** Marks where a row's image features go. */
export const IMAGE = Symbol("image");
export type Part = string | typeof IMAGE | { ids: readonly number[] };

/** The null condition of classifier-free guidance and of text dropout. */
export const NULL_PROMPT = "Generate an image.";
/** The image→text prompt for dense descriptions. */
export const DESCRIBE_PROMPT = "Describe the image in detail.";

export type HostSequences = {
  tokens: HostArray; // int32 [B, L]
  valid: HostArray; // f32 [B, L]
  slots: HostArray; // f32 [B, L, R]
};

/** Token ids of one row (with `<bos>`); `IMAGE` becomes R `<img>` ids. */
export function rowIds(tok: Tokenizer, parts: readonly Part[], R: number): number[] {
  const ids = [BOS_ID];
  for (const p of parts) {
    if (p === IMAGE) for (let r = 0; r < R; r++) ids.push(IMG_ID);
    else if (typeof p === "string") ids.push(...tok.encode(p));
    else ids.push(...p.ids);
  }
  return ids;
}

/**
 * Pad rows of ids to L and mark their image slots: the k-th `<img>` of a row reads feature row k
 * (k < R). A row longer than L is an error (callers size L for their templates), as is a row with
 * more than R image slots.
 */
export function packRows(rows: readonly number[][], L: number, R: number): HostSequences {
  const B = rows.length;
  const tokens = new Int32Array(B * L);
  const valid = new Float32Array(B * L);
  const slots = new Float32Array(B * L * R);
  rows.forEach((ids, b) => {
    if (ids.length > L)
      throw new Error(`sequence of ${ids.length} tokens does not fit the length ${L}`);
    let k = 0;
    ids.forEach((id, l) => {
      tokens[b * L + l] = id;
      valid[b * L + l] = 1;
      if (id === IMG_ID) {
        if (k >= R) throw new Error(`sequence has more than ${R} image slots`);
        slots[(b * L + l) * R + k++] = 1;
      }
    });
  });
  return {
    tokens: { dtype: "int32", shape: [B, L], data: tokens },
    valid: { dtype: "float32", shape: [B, L], data: valid },
    slots: { dtype: "float32", shape: [B, L, R], data: slots },
  };
}

/** Condition rows (generation side): parts → padded sequences. */
export function conditionSequences(
  tok: Tokenizer,
  rows: readonly (readonly Part[])[],
  L: number,
  R: number,
): HostSequences {
  return packRows(
    rows.map((r) => rowIds(tok, r, R)),
    L,
    R,
  );
}

export type TextExample = { prompt: readonly Part[]; answer: string };

export type HostTextBatch = HostSequences & {
  targets: HostArray; // int32 [B, L]: the next token at each position
  mask: HostArray; // f32 [B, L]: 1 where the next token is part of the answer (incl. <eos>)
  truncated: number;
};

/**
 * Image→text rows: `<bos> prompt <sep> answer <eos>`, trained to predict the answer and `<eos>`.
 * Answers too long for L are cut (their last kept token then has no `<eos>` target); the count
 * is reported.
 */
export function textSequences(
  tok: Tokenizer,
  examples: readonly TextExample[],
  L: number,
  R: number,
): HostTextBatch {
  const B = examples.length;
  const targets = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  let truncated = 0;
  const rows = examples.map((e, b) => {
    const prompt = [...rowIds(tok, e.prompt, R), SEP_ID];
    if (prompt.length >= L) throw new Error(`prompt of ${prompt.length} tokens does not fit ${L}`);
    let ids = [...prompt, ...tok.encode(e.answer), EOS_ID];
    if (ids.length > L) {
      truncated++;
      ids = ids.slice(0, L);
    }
    for (let l = prompt.length - 1; l < ids.length - 1; l++) {
      targets[b * L + l] = ids[l + 1];
      mask[b * L + l] = 1;
    }
    return ids;
  });
  return {
    ...packRows(rows, L, R),
    targets: { dtype: "int32", shape: [B, L], data: targets },
    mask: { dtype: "float32", shape: [B, L], data: mask },
    truncated,
  };
}

export type HostLmBatch = {
  tokens: HostArray; // int32 [B, L]
  valid: HostArray; // f32 [B, L]
  targets: HostArray; // int32 [B, L]: the next token at each position
  mask: HostArray; // f32 [B, L]: 1 where the next token belongs to the same document (incl. <eos>)
  truncated: number;
};

/** A document's ids: `<bos> parts <eos>` (text only: an image slot is an error). */
export function lmIds(tok: Tokenizer, parts: readonly Part[]): number[] {
  if (parts.includes(IMAGE)) throw new Error("a language-model row has an image slot");
  const ids = [...rowIds(tok, parts, 0), EOS_ID];
  if (ids.includes(IMG_ID)) throw new Error("a language-model row has an <img> token");
  return ids;
}

/**
 * Language-model rows (text only): each row holds one or more documents packed end to end, each
 * `<bos> parts <eos>`, trained to predict every token after its `<bos>` — no prompt is masked,
 * no row has an image slot, and no position is asked for the next document's `<bos>`. A row
 * longer than L is cut (its last kept token then has no target); the count of cut rows is
 * reported.
 */
export function lmSequences(
  tok: Tokenizer,
  rows: readonly (readonly (readonly Part[])[])[],
  L: number,
): HostLmBatch {
  const B = rows.length;
  const tokens = new Int32Array(B * L);
  const valid = new Float32Array(B * L);
  const targets = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  let truncated = 0;
  rows.forEach((docs, b) => {
    let l = 0;
    for (const doc of docs) {
      const ids = lmIds(tok, doc);
      if (l + ids.length > L) truncated++;
      const n = Math.min(ids.length, L - l);
      for (let k = 0; k < n; k++) {
        tokens[b * L + l + k] = ids[k];
        valid[b * L + l + k] = 1;
        if (k + 1 < n) {
          targets[b * L + l + k] = ids[k + 1];
          mask[b * L + l + k] = 1;
        }
      }
      l += n;
      if (l >= L) break;
    }
  });
  return {
    tokens: { dtype: "int32", shape: [B, L], data: tokens },
    valid: { dtype: "float32", shape: [B, L], data: valid },
    targets: { dtype: "int32", shape: [B, L], data: targets },
    mask: { dtype: "float32", shape: [B, L], data: mask },
    truncated,
  };
}
