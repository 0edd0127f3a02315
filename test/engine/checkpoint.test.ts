import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CheckpointError,
  checkpointExists,
  exportF16,
  loadCheckpoint,
  loadHostCheckpoint,
  readTrainerState,
  saveCheckpoint,
  saveHostCheckpoint,
} from "../../src/engine/checkpoint.ts";
import { initEngine, numpy as np } from "../../src/engine/jax.ts";
import { readSafetensorsFile } from "../../src/engine/safetensors.ts";
import { namedLeaves, type ParamTree, toHost, treeDispose } from "../../src/engine/tree.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "reca-ckpt-"));

function makeParams(scale: number): ParamTree {
  return {
    embed: np
      .array([
        [0.5, -1.25, 3],
        [4, 5, 6],
      ])
      .mul(scale),
    blocks: [
      { attn: { wq: np.array([1, 2, 3, 4]).mul(scale) }, norm: np.array([1, 1]) },
      { attn: { wq: np.array([-1, 0.125, 9, 1e-7]).mul(scale) }, norm: np.array([2, 2]) },
    ],
    head: { b: np.array([0.25]) },
  };
}

/** Host values of a tree keyed by dotted name (keeps the tree alive). */
async function values(t: ParamTree): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, a] of namedLeaves(t)) out[name] = Array.from(await a.ref.data());
  return out;
}

const config = { model: { dim: 4, layers: 2 }, lr: 3e-4, name: "tiny" };

describe("checkpoint directories", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("round-trips params, optimizer, ema, config and trainer state", async () => {
    const dir = join(tmp(), "ckpt");
    const params = makeParams(1);
    const optimizer: ParamTree = {
      m: makeParams(0.1),
      v: makeParams(0.01),
      count: np.array([17], { dtype: np.int32 }),
    };
    const ema = makeParams(0.9);
    const trainer = { step: 17, rng: [1, 2, 3, 4294967295], cursor: { epoch: 1, index: 42 } };
    expect(checkpointExists(dir)).toBe(false);
    await saveCheckpoint(dir, { params, config, optimizer, trainer, ema });
    expect(checkpointExists(dir)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([
      "config.json",
      "ema.safetensors",
      "model.safetensors",
      "optimizer.safetensors",
      "trainer.json",
    ]);
    expect(readSafetensorsFile(join(dir, "model.safetensors")).metadata.format_version).toBe("1");
    expect(
      readSafetensorsFile(join(dir, "optimizer.safetensors")).tensors.has("m.blocks.0.attn.wq"),
    ).toBe(true);
    // No temp or old dirs left beside it.
    expect(readdirSync(join(dir, ".."))).toEqual(["ckpt"]);

    const loaded = loadCheckpoint<typeof config, typeof trainer>(dir, { expected: params });
    expect(loaded.config).toEqual(config);
    expect(loaded.trainer).toEqual(trainer);
    expect(readTrainerState(dir)).toEqual(trainer);
    expect(readTrainerState(join(dir, "none"))).toBeUndefined();
    expect(Array.isArray((loaded.params as { blocks: unknown }).blocks)).toBe(true);
    expect(await values(loaded.params)).toEqual(await values(params));
    expect(await values(loaded.optimizer!)).toEqual(await values(optimizer));
    expect(await values(loaded.ema!)).toEqual(await values(ema));
    const count = namedLeaves(loaded.optimizer!).find(([n]) => n === "count")![1];
    expect(count.dtype).toBe(np.int32);

    const noOpt = loadCheckpoint(dir, { skipOptimizer: true });
    expect(noOpt.optimizer).toBeUndefined();
    for (const t of [
      params,
      optimizer,
      ema,
      loaded.params,
      loaded.optimizer!,
      loaded.ema!,
      noOpt.params,
      noOpt.ema!,
    ])
      treeDispose(t);
  });

  it("overwrites an existing checkpoint", async () => {
    const dir = join(tmp(), "ckpt");
    const p1 = makeParams(1);
    const p2 = makeParams(2);
    await saveCheckpoint(dir, { params: p1, config, trainer: { step: 1 }, optimizer: { m: p1 } });
    await saveCheckpoint(dir, { params: p2, config: { ...config, name: "second" } });
    const loaded = loadCheckpoint(dir);
    expect(await values(loaded.params)).toEqual(await values(p2));
    expect((loaded.config as typeof config).name).toBe("second");
    // The new checkpoint replaces the directory wholesale: no stale optimizer/trainer.
    expect(loaded.trainer).toBeUndefined();
    expect(loaded.optimizer).toBeUndefined();
    expect(readdirSync(join(dir, ".."))).toEqual(["ckpt"]);
    for (const t of [p1, p2, loaded.params]) treeDispose(t);
  });

  it("keeps files that are not part of the checkpoint (metrics, sample sheets)", async () => {
    const dir = join(tmp(), "ckpt");
    const p1 = makeParams(1);
    await saveCheckpoint(dir, { params: p1, config, trainer: { step: 1 } });
    writeFileSync(join(dir, "metrics.jsonl"), '{"step":1}\n');
    await saveCheckpoint(dir, { params: p1, config });
    expect(readFileSync(join(dir, "metrics.jsonl"), "utf8")).toBe('{"step":1}\n');
    expect(existsSync(join(dir, "trainer.json"))).toBe(false);
    // A crash right after "rename dir → old" left the metrics in the old dir: the next save migrates them.
    renameSync(dir, `${dir}.old-99999`);
    await saveCheckpoint(dir, { params: p1, config });
    expect(readFileSync(join(dir, "metrics.jsonl"), "utf8")).toBe('{"step":1}\n');
    expect(readdirSync(join(dir, ".."))).toEqual(["ckpt"]);
    treeDispose(p1);
  });

  it("falls back to the .old-* dir a crash between the renames left behind", async () => {
    const root = tmp();
    const dir = join(root, "ckpt");
    const params = makeParams(3);
    await saveCheckpoint(dir, { params, config, trainer: { step: 5 } });
    renameSync(dir, `${dir}.old-99999`); // the state right after "rename dir → old"
    expect(checkpointExists(dir)).toBe(true);
    const loaded = loadCheckpoint(dir);
    expect(loaded.trainer).toEqual({ step: 5 });
    expect(readTrainerState(dir)).toEqual({ step: 5 });
    expect(await values(loaded.params)).toEqual(await values(params));
    // The next save installs a fresh dir and clears the leftover.
    await saveCheckpoint(dir, { params, config, trainer: { step: 6 } });
    expect(readdirSync(root)).toEqual(["ckpt"]);
    expect(loadCheckpoint(dir).trainer).toEqual({ step: 6 });
    treeDispose(params);
    treeDispose(loaded.params);
  });

  it("gives clear errors for missing or malformed checkpoints", async () => {
    const root = tmp();
    expect(() => loadCheckpoint(join(root, "nope"))).toThrow(/no checkpoint at .*nope/);
    const dir = join(root, "ckpt");
    const params = makeParams(1);
    await saveCheckpoint(dir, { params, config });

    writeFileSync(join(dir, "config.json"), "{not json");
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json: malformed config/);
    writeFileSync(join(dir, "config.json"), "{}");

    const model = join(dir, "model.safetensors");
    const good = readFileSync(model);
    writeFileSync(model, good.subarray(0, good.length - 4));
    expect(() => loadCheckpoint(dir)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(dir)).toThrow(/malformed params file: .*model\.safetensors: /);
    writeFileSync(model, good);

    const other = makeParams(1);
    (other as { head: { extra?: unknown } }).head.extra = np.array([1]);
    expect(() => loadCheckpoint(dir, { expected: other })).toThrow(/"head\.extra" is missing/);
    treeDispose(other);
    treeDispose(params);
  });

  it("exports params as F16 safetensors", async () => {
    const root = tmp();
    const dir = join(root, "ckpt");
    const params = makeParams(1);
    await saveCheckpoint(dir, { params, config });
    const out = join(root, "web", "model.f16.safetensors");
    expect(exportF16(dir, out)).toEqual({ tensors: 6, overflowed: 0 });
    expect(existsSync(out)).toBe(true);
    const { tensors } = readSafetensorsFile(out);
    const want = await values(params);
    for (const [name, t] of tensors) {
      expect(t.dtype).toBe("F16");
      want[name].forEach((v, i) => {
        expect(Math.abs(t.data[i] - v)).toBeLessThanOrEqual(
          Math.max(Math.abs(v) * 2 ** -11, 2 ** -25),
        );
      });
    }
    treeDispose(params);
  });

  it("host-side state round-trips and shares the file layout with device trees", async () => {
    const root = tmp();
    const params = makeParams(1);
    const m = makeParams(0.1);
    const v = makeParams(0.01);
    // Written as device trees with an {m, v} optimizer tree …
    const dir = join(root, "a");
    await saveCheckpoint(dir, { params, config, optimizer: { m, v }, trainer: { step: 3 } });
    // … read back as host state.
    const host = loadHostCheckpoint<typeof config, { step: number }>(dir);
    expect(host.trainer).toEqual({ step: 3 });
    expect(host.state.ema).toBeUndefined();
    const want = await toHost(m);
    expect([...host.state.m.keys()]).toEqual([...want.keys()]);
    for (const [name, t] of want) expect(host.state.m.get(name)).toEqual(t);

    // Host state written back loads as device trees with equal values.
    const dir2 = join(root, "b");
    await saveHostCheckpoint(dir2, { ...host, state: { ...host.state, ema: host.state.params } });
    const dev = loadCheckpoint(dir2, { expected: params });
    expect(await values(dev.params)).toEqual(await values(params));
    expect(await values((dev.optimizer as { v: ParamTree }).v)).toEqual(await values(v));
    expect(await values(dev.ema!)).toEqual(await values(params));

    const dir3 = join(root, "c");
    await saveCheckpoint(dir3, { params, config });
    expect(() => loadHostCheckpoint(dir3)).toThrow(/optimizer\.safetensors missing/);
    expect(() => exportF16(dir3, join(root, "x.safetensors"), { ema: true })).toThrow(
      /no EMA params/,
    );
    for (const t of [params, m, v, dev.params, dev.optimizer!, dev.ema!]) treeDispose(t);
  });
});
