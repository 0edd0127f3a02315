import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fitSoftmaxProbe, type ProbeData, readAt } from "../../src/encoders/probe.ts";
import { encoderConfig } from "../../src/encoders/understanding-config.ts";
import { shipEncoder, trainUnderstandingEncoder } from "../../src/encoders/understanding-train.ts";
import { Rng } from "../../src/engine/rng.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-encoder-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** n rows of `dim` Gaussian features whose class is the argmax of a fixed linear map. */
function linearData(n: number, dim: number, classes: number, groups: number, seed: number) {
  const rng = new Rng(seed);
  const truth = new Rng(99);
  const W = Array.from({ length: groups * classes * dim }, () => truth.normal());
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  const group = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    group[i] = rng.int(groups);
    for (let d = 0; d < dim; d++) x[i * dim + d] = rng.normal() * 3 + 1;
    let best = -Infinity;
    for (let k = 0; k < classes; k++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += W[(group[i] * classes + k) * dim + d] * x[i * dim + d];
      if (s > best) [best, y[i]] = [s, k];
    }
  }
  return { x, y, group: groups > 1 ? group : undefined, n, dim, groups, classes } as ProbeData;
}

describe("linear probes", () => {
  it("softmax regression separates linearly separable classes, per group", () => {
    expect(
      fitSoftmaxProbe(linearData(600, 5, 3, 1, 1), linearData(300, 5, 3, 1, 2)),
    ).toBeGreaterThan(0.95);
    // One linear map per group: a single shared map could not fit these labels.
    const train = linearData(1200, 4, 4, 3, 3);
    const test = linearData(300, 4, 4, 3, 4);
    expect(fitSoftmaxProbe(train, test)).toBeGreaterThan(0.9);
    expect(fitSoftmaxProbe({ ...train, group: undefined, groups: 1 }, test)).toBeLessThan(0.8);
  });

  it("reads the feature grid bilinearly at a position", () => {
    const r = 2;
    const F = Float32Array.from([0, 10, 20, 30]); // D = 1: cells (0,0)=0 (0,1)=10 (1,0)=20 (1,1)=30
    expect(readAt(F, r, 1, 0.25, 0.25)[0]).toBeCloseTo(0);
    expect(readAt(F, r, 1, 0.75, 0.75)[0]).toBeCloseTo(30);
    expect(readAt(F, r, 1, 0.5, 0.25)[0]).toBeCloseTo(5);
    expect(readAt(F, r, 1, 0.5, 0.5)[0]).toBeCloseTo(15);
    expect(readAt(F, r, 1, 0, 1)[0]).toBeCloseTo(20); // clamped to the corner cell
  });
});

describe("reca probe encoder", () => {
  it("trains a tiny encoder through the library, ships it and probes it end to end", async () => {
    const cfg = encoderConfig({
      model: {
        vit: { dim: 16, depth: 1, heads: 2, mlpRatio: 1 },
        text: { dim: 16, depth: 1, heads: 2, mlpRatio: 1 },
        embedDim: 16,
      },
      train: { steps: 2, batch: 8, warmupSteps: 1, checkpointEvery: 2 },
    });
    const run = join(tmp, "run");
    const r = await trainUnderstandingEncoder(cfg, {
      outDir: run,
      quiet: true,
      parallelism: "kernel",
    });
    expect(r.status).toBe("done");
    expect(existsSync(join(run, "retrieval.png"))).toBe(true);
    const ship = join(tmp, "ship");
    expect(shipEncoder(run, ship)).toContain("model.safetensors");
    expect(existsSync(join(ship, "optimizer.safetensors"))).toBe(false);

    const json = join(tmp, "probe.json");
    const bin = join(import.meta.dirname, "../../bin/reca.mjs");
    const p = spawnSync(
      process.execPath,
      [bin, "probe", "encoder", "--model", ship, "--n", "24", "--resolution", "2", "--json", json],
      { encoding: "utf8", timeout: 90_000 },
    );
    expect(p.status, p.stderr).toBe(0);
    const out = JSON.parse(p.stdout);
    expect(Object.keys(out)).toEqual(["retrieval", "probe"]);
    expect(Object.keys(out.probe).sort()).toEqual(["category", "color", "count", "relation"]);
    for (const v of [out.retrieval, ...Object.values(out.probe)]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    const full = JSON.parse(readFileSync(json, "utf8"));
    expect(full.details.resolution).toBe(2);
    expect(full.details.examples.count).toEqual({ train: 18, test: 6, classes: 4 });

    const bad = spawnSync(
      process.execPath,
      [bin, "probe", "encoder", "--model", join(tmp, "nope")],
      {
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/encoder config|no checkpoint/);
  });
});
