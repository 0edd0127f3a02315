import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, type JaxArray, numpy as np } from "../../../src/engine/jax.ts";
import { expectOrtMatches, hrandn } from "./helpers.ts";

beforeAll(async () => {
  await initEngine();
});

// Data movement only: ORT must reproduce jax-js exactly.
const exact = { atol: 0, rtol: 0 };

describe("ONNX mappings: shape primitives", () => {
  it("reshape and transpose", async () => {
    await expectOrtMatches((x: JaxArray) => x.reshape([6, 20]), [hrandn([2, 3, 4, 5], 1)], {
      ...exact,
      prims: ["reshape"],
    });
    await expectOrtMatches((x: JaxArray) => x.transpose([2, 0, 3, 1]), [hrandn([2, 3, 4, 5], 2)], {
      ...exact,
      prims: ["transpose"],
    });
  });

  it("broadcast stays lazy: no Expand when its consumer broadcasts", async () => {
    const r = await expectOrtMatches(
      (x: JaxArray, y: JaxArray) => np.broadcastTo(x.reshape([4, 1, 5]), [4, 3, 5]).mul(y),
      [hrandn([4, 5], 3), hrandn([3, 5], 4)],
      { ...exact, prims: ["broadcast"] },
    );
    expect(r.ops.Expand ?? 0).toBe(0);
    // ...and is expanded where a reshape mixes the broadcast axis into another.
    const up = await expectOrtMatches(
      (x: JaxArray) => np.broadcastTo(x.reshape([2, 3, 1, 4]), [2, 3, 2, 4]).reshape([2, 6, 4]),
      [hrandn([2, 3, 4], 5)],
      { ...exact, prims: ["broadcast", "reshape"] },
    );
    expect(up.ops.Expand).toBe(1);
  });

  it("shrink (slices), pad, flip", async () => {
    await expectOrtMatches((x: JaxArray) => x.slice([1, 3], [], [2, 5]), [hrandn([4, 3, 6], 6)], {
      ...exact,
      prims: ["shrink"],
    });
    await expectOrtMatches(
      (x: JaxArray) =>
        np.pad(x, [
          [1, 2],
          [0, 0],
          [3, 0],
        ]),
      [hrandn([4, 3, 6], 7)],
      { ...exact, prims: ["pad"] },
    );
    await expectOrtMatches((x: JaxArray) => np.flip(x, [0, 2]), [hrandn([4, 3, 6], 8)], {
      ...exact,
      prims: ["flip"],
    });
    // Slicing, padding and flipping a lazily broadcast value.
    await expectOrtMatches(
      (x: JaxArray) => {
        const b = np.broadcastTo(x.reshape([1, 6]), [5, 6]);
        return np.pad(np.flip(b.slice([1, 4], [2, 5]), [0, 1]), [
          [1, 1],
          [0, 2],
        ]);
      },
      [hrandn([6], 9)],
      { ...exact, prims: ["broadcast", "shrink", "flip", "pad"] },
    );
  });

  it("concatenate and split (lazy inputs included)", async () => {
    await expectOrtMatches(
      (x: JaxArray, y: JaxArray) =>
        np.concatenate([x, np.broadcastTo(y.reshape([1, 1, 6]), [2, 2, 6])], 1),
      [hrandn([2, 3, 6], 10), hrandn([6], 11)],
      { ...exact, prims: ["concatenate"] },
    );
    await expectOrtMatches(
      (x: JaxArray) => {
        const [p, q, r] = np.split(x, [2, 3], 1);
        return [r, p.mul(2), q];
      },
      [hrandn([2, 7, 3], 12)],
      { ...exact, prims: ["split"] },
    );
  });
});
