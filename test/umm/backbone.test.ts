import { beforeAll, describe, expect, it } from "vitest";
import { EOS_ID, IMG_ID, SEP_ID, Tokenizer } from "../../src/data/tokenizer.ts";
import { initEngine, type JaxArray, jit, numpy as np, valueAndGrad } from "../../src/engine/jax.ts";
import { jaxKey } from "../../src/engine/rng.ts";
import { namedLeaves, type ParamTree, treeRef } from "../../src/engine/tree.ts";
import {
  type BackboneConfig,
  type BackboneParams,
  backboneStates,
  initBackbone,
  scaleGradient,
  sequenceMask,
} from "../../src/umm/backbone.ts";
import {
  conditionSequences,
  IMAGE,
  NULL_PROMPT,
  packRows,
  textSequences,
} from "../../src/umm/sequence.ts";

beforeAll(async () => {
  await initEngine();
});

const tok = Tokenizer.world();
const dev = (a: { dtype: string; shape: number[]; data: Float32Array | Int32Array }) =>
  np.array(a.data, { dtype: a.dtype === "int32" ? np.int32 : np.float32 }).reshape(a.shape);

describe("sequences", () => {
  it("pads rows and maps the k-th <img> of a row to feature row k", () => {
    const s = conditionSequences(tok, [["a red circle"], [IMAGE, "make it blue."]], 12, 2);
    expect(s.tokens.shape).toEqual([2, 12]);
    const t = s.tokens.data;
    // row 0: <bos> a red circle, then padding
    expect(Array.from(s.valid.data.slice(0, 12))).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    // row 1: <bos> <img> <img> make it blue .
    expect(t[12 + 1]).toBe(IMG_ID);
    expect(t[12 + 2]).toBe(IMG_ID);
    const slot = (b: number, l: number, r: number) => s.slots.data[(b * 12 + l) * 2 + r];
    expect([slot(1, 1, 0), slot(1, 1, 1), slot(1, 2, 0), slot(1, 2, 1)]).toEqual([1, 0, 0, 1]);
    expect(Array.from(s.slots.data.slice(0, 24)).every((v) => v === 0)).toBe(true);
  });

  it("refuses rows that do not fit or hold too many image slots", () => {
    expect(() => conditionSequences(tok, [["a red circle left of a blue square"]], 4, 1)).toThrow(
      /does not fit/,
    );
    expect(() => packRows([[1, IMG_ID, IMG_ID, IMG_ID]], 8, 2)).toThrow(/more than 2/);
  });

  it("targets the answer and <eos> only", () => {
    const x = textSequences(
      tok,
      [{ prompt: [IMAGE, "what color is the circle?"], answer: "red" }],
      16,
      2,
    );
    const ids = Array.from(x.tokens.data);
    const sep = ids.indexOf(SEP_ID);
    const mask = Array.from(x.mask.data);
    expect(mask.reduce((a, b) => a + b)).toBe(2); // "red" and <eos>
    expect(mask[sep]).toBe(1);
    expect(x.targets.data[sep]).toBe(tok.id("red"));
    expect(x.targets.data[sep + 1]).toBe(EOS_ID);
    const cut = textSequences(tok, [{ prompt: [NULL_PROMPT], answer: "a b c d e f g" }], 8, 1);
    expect(cut.truncated).toBe(1);
  });
});

const bc: BackboneConfig = {
  vocabSize: tok.size,
  maxLen: 16,
  dim: 16,
  depth: 2,
  heads: 2,
  mlpRatio: 2,
  featureDim: 8,
};

function batch(texts: (typeof IMAGE | string)[][], R: number, featSeed: number) {
  const s = conditionSequences(tok, texts, 12, R);
  const f = new Float32Array(texts.length * R * bc.featureDim);
  let x = featSeed;
  for (let i = 0; i < f.length; i++) {
    x = (x * 16807) % 2147483647;
    f[i] = (x / 2147483647) * 2 - 1;
  }
  return {
    tokens: dev(s.tokens),
    valid: dev(s.valid),
    slots: dev(s.slots),
    features: np.array(f).reshape([texts.length, R, bc.featureDim]),
  };
}

async function host(a: JaxArray): Promise<Float32Array> {
  return (await a.data()) as Float32Array;
}

describe("backbone", () => {
  it("states are [B, L, D]; text is causal, image slots see each other, padding is ignored", async () => {
    const p = initBackbone(jaxKey(0), bc);
    const R = 2;
    const a = backboneStates(treeRef(p), batch([[IMAGE, "a red circle"]], R, 1), bc);
    expect(a.shape).toEqual([1, 12, 16]);
    // Changing a later text token leaves earlier positions (and the image slots) unchanged.
    const b = backboneStates(treeRef(p), batch([[IMAGE, "a red square"]], R, 1), bc);
    const [ha, hb] = [await host(a), await host(b)];
    const D = 16;
    const same = (l: number) =>
      ha.slice(l * D, (l + 1) * D).every((v, i) => Math.abs(v - hb[l * D + i]) < 1e-6);
    expect([0, 1, 2, 3, 4].map(same)).toEqual([true, true, true, true, true]); // bos img img a red
    expect(same(5)).toBe(false); // circle vs square
    // The first image slot sees the second (bidirectional): other features change slot 1.
    const c = backboneStates(treeRef(p), batch([[IMAGE, "a red circle"]], R, 7), bc);
    const hc = await host(c);
    expect(ha.slice(D, 2 * D).some((v, i) => Math.abs(v - hc[D + i]) > 1e-4)).toBe(true);
    // The mask: padding keys are never attended.
    const s = batch([["a red circle"]], R, 1);
    const m = (await sequenceMask(s.slots, s.valid).astype(np.float32).data()) as Float32Array;
    expect(m[3 * 12 + 5]).toBe(0); // query 3 → padding key 5
    expect(m[3 * 12 + 2]).toBe(1);
    s.tokens.dispose();
    s.features.dispose();
    const pl = namedLeaves(p as unknown as ParamTree);
    for (const [, v] of pl) v.dispose();
  });

  it("scaleGradient keeps the value and scales the gradient", async () => {
    const f = (x: JaxArray) => scaleGradient(x, 0.1).mul(3).sum();
    const [v, g] = valueAndGrad(f)(np.array([1, 2])) as [JaxArray, JaxArray];
    expect((await v.data())[0]).toBeCloseTo(9);
    expect(Array.from(await g.data())).toEqual([expect.closeTo(0.3, 6), expect.closeTo(0.3, 6)]);
  });

  it("gradients reach the projector through the image slots, scaled by featureGradScale", async () => {
    const p = initBackbone(jaxKey(1), bc);
    const grads = async (scale: number) => {
      const loss = jit((q: BackboneParams, bt: ReturnType<typeof batch>) =>
        // Not a plain sum: LayerNorm outputs sum to a constant, so its gradient is noise.
        backboneStates(q, bt, bc, { featureGradScale: scale })
          .mul(np.arange(16).astype(np.float32))
          .sum(),
      );
      const [, g] = valueAndGrad((q: BackboneParams) =>
        loss(q, batch([[IMAGE, "a red circle"]], 2, 3)),
      )(treeRef(p)) as [JaxArray, BackboneParams];
      return host(g.projector.fc1.w);
    };
    const g1 = await grads(1);
    const g01 = await grads(0.1);
    const norm = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + v * v, 0));
    expect(norm(g1)).toBeGreaterThan(0);
    expect(norm(g01) / norm(g1)).toBeCloseTo(0.1, 4);
  });
});
