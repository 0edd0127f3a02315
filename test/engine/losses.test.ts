import { beforeAll, describe, expect, it } from "vitest";
import { grad, initEngine, type JaxArray, jit, numpy as np } from "../../src/engine/jax.ts";
import { crossEntropy, mse, tokenNll } from "../../src/engine/losses.ts";
import { gradCheck, host, randInt, randn } from "../helpers/gradcheck.ts";

beforeAll(async () => {
  await initEngine();
});

const [B, T, V] = [2, 3, 5];

/** Host -log softmax(logits)[target] for each token. */
function handNll(logits: Float32Array, targets: Int32Array): number[] {
  const out: number[] = [];
  for (let n = 0; n < targets.length; n++) {
    const row = Array.from(logits.slice(n * V, n * V + V));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    out.push(lse - row[targets[n]]);
  }
  return out;
}

const scalar = async (x: JaxArray) => (await host(x))[0];

describe("crossEntropy", () => {
  it("equals a hand computation, with and without a mask", async () => {
    const logits = randn([B, T, V], 1, 2);
    const targets = randInt([B, T], V, 2);
    const nll = handNll(await host(logits.ref), (await targets.ref.data()) as Int32Array);
    const maskv = [1, 1, 0, 1, 0, 0];
    const mask = np.array(maskv).reshape([B, T]);

    const per = await host(tokenNll(logits.ref, targets.ref));
    for (let i = 0; i < nll.length; i++) expect(Math.abs(per[i] - nll[i])).toBeLessThan(1e-5);
    const mean = nll.reduce((a, b) => a + b, 0) / nll.length;
    expect(await scalar(crossEntropy(logits.ref, targets.ref))).toBeCloseTo(mean, 5);
    const masked = nll.reduce((a, v, i) => a + v * maskv[i], 0) / 3;
    expect(await scalar(crossEntropy(logits, targets, mask))).toBeCloseTo(masked, 5);
  });

  it("ignores masked tokens entirely; an empty mask gives 0", async () => {
    const targets = randInt([B, T], V, 3);
    const mask = () => np.array([1, 0, 1, 1, 1, 0]).reshape([B, T]);
    const a = randn([B, T, V], 4);
    // change only the logits of masked-out tokens (flat positions 1 and 5)
    const sel = np.array([0, 1, 0, 0, 0, 1]).reshape([B, T, 1]);
    const b = a.ref.add(randn([B, T, V], 5, 10).mul(sel));
    const la = await scalar(crossEntropy(a.ref, targets.ref, mask()));
    const lb = await scalar(crossEntropy(b, targets.ref, mask()));
    expect(Math.abs(la - lb)).toBeLessThan(1e-6);
    expect(await scalar(crossEntropy(a, targets, np.zeros([B, T])))).toBe(0);
  });

  it("gradient w.r.t. logits (masked), also under jit(grad)", async () => {
    const targets = randInt([B, T], V, 6);
    const mask = np.array([1, 0.5, 0, 1, 1, 0]).reshape([B, T]);
    const f = ({ x }: { x: JaxArray }) => crossEntropy(x, targets.ref, mask.ref);
    await gradCheck(f, { x: randn([B, T, V], 7) });
    await gradCheck(f, { x: randn([B, T, V], 8) }, { jit: true });
    // the one-hot form sidesteps jax-js's jit(grad) gather bug
    const g = jit(grad((x: JaxArray, t: JaxArray) => crossEntropy(x, t)));
    expect(g(randn([B, T, V], 9), targets.ref).shape).toEqual([B, T, V]);
    g.dispose();
    targets.dispose();
    mask.dispose();
  });
});

describe("mse", () => {
  it("plain, token-masked and per-sample-weighted means", async () => {
    const p = randn([B, T, 4], 1);
    const t = randn([B, T, 4], 2);
    const d = await host(p.ref.sub(t.ref));
    const sq = Array.from(d, (v) => v * v);
    const sum = (idx: (i: number) => number) => sq.reduce((a, v, i) => a + v * idx(i), 0);
    expect(await scalar(mse(p.ref, t.ref))).toBeCloseTo(sum(() => 1) / sq.length, 5);
    // token mask [B, T]: token i*4.. is element-group i
    const tm = [1, 0, 1, 0, 0, 1];
    const masked = sum((i) => tm[Math.floor(i / 4)]) / (3 * 4);
    expect(await scalar(mse(p.ref, t.ref, np.array(tm).reshape([B, T])))).toBeCloseTo(masked, 5);
    // per-sample weights [B]
    const w = [0.25, 1];
    const weighted = sum((i) => w[Math.floor(i / (T * 4))]) / ((0.25 + 1) * T * 4);
    expect(await scalar(mse(p, t, np.array(w)))).toBeCloseTo(weighted, 5);
  });

  it("gradient w.r.t. prediction and target", async () => {
    const m = np.array([1, 0, 1, 1, 1, 0]).reshape([B, T]);
    await gradCheck(({ p, t }) => mse(p, t, m.ref), {
      p: randn([B, T, 4], 3),
      t: randn([B, T, 4], 4),
    });
    m.dispose();
  });
});
