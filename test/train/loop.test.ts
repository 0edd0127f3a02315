import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadHostCheckpoint, saveHostCheckpoint } from "../../src/engine/checkpoint.ts";
import { initEngine } from "../../src/engine/jax.ts";
import { optimConfig } from "../../src/engine/optim.ts";
import type { Rng } from "../../src/engine/rng.ts";
import { type HostState, LocalRunner } from "../../src/engine/runner.ts";
import type { HostBatch } from "../../src/engine/train-step.ts";
import { type LoopOptions, runTrainingLoop, type TrainerState } from "../../src/train/loop.ts";
import { linearBatch, linearTask } from "../fixtures/linear-task.ts";

const tc = { dIn: 8, dHidden: 16 };
const optim = optimConfig({ lr: 0.02, totalSteps: 30, warmupSteps: 3, emaDecay: 0.9 });
const tmp = () => mkdtempSync(join(tmpdir(), "reca-loop-"));

/** Batches that depend on the host RNG too, so resume must restore its state. */
function batch(step: number, rng: Rng): HostBatch {
  return linearBatch(tc, rng.int(1000), step, 16);
}

function opts(outDir: string, extra: Partial<LoopOptions> = {}): LoopOptions {
  return {
    runner: new LocalRunner(linearTask(tc), optim, 7, 8, 1),
    optim,
    steps: 30,
    batch,
    outDir,
    config: tc,
    seed: 5,
    checkpointEvery: 10,
    quiet: true,
    ...extra,
  };
}

function sameState(a: HostState, b: HostState) {
  for (const part of ["params", "m", "v", "ema"] as const) {
    const ta = a[part]!;
    const tb = b[part]!;
    expect([...ta.keys()]).toEqual([...tb.keys()]);
    for (const [k, t] of ta)
      expect(Buffer.from(t.data.buffer).equals(Buffer.from(tb.get(k)!.data.buffer))).toBe(true);
  }
}

describe("training loop", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("lowers the loss and writes metrics and a checkpoint", async () => {
    const dir = tmp();
    const o = opts(dir);
    const r = await runTrainingLoop(o);
    expect(r.status).toBe("done");
    const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(30);
    expect(lines[29].loss).toBeLessThan(lines[0].loss);
    // The task's loss parts are logged beside the total (the fixture's `sq` is the loss itself).
    for (const l of lines) expect(l.lossParts.sq).toBeCloseTo(l.loss, 6);
    expect(lines[29].lossParts.abs).toBeLessThan(lines[0].lossParts.abs);
    const ck = loadHostCheckpoint<unknown, TrainerState>(dir);
    expect(ck.trainer?.step).toBe(30);
    expect(ck.trainer?.threads).toBe(o.runner.threads);
    expect(ck.config).toEqual(tc);
    await o.runner.dispose();
  });

  it("resumes bit-identically after stopping mid-way", async () => {
    const full = tmp();
    const a = opts(full);
    await runTrainingLoop(a);
    const fullState = await a.runner.getState();
    await a.runner.dispose();

    const split = tmp();
    const b = opts(split, { steps: 13 }); // stops between checkpoints (saves at exit)
    await runTrainingLoop(b);
    await b.runner.dispose();
    const c = opts(split, { resume: true });
    const r = await runTrainingLoop(c);
    expect(r.step).toBe(30);
    sameState(await c.runner.getState(), fullState);
    await c.runner.dispose();
    const m = readFileSync(join(split, "metrics.jsonl"), "utf8").trim().split("\n");
    expect(m.map((l) => JSON.parse(l).step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it("records the loop's process CPU seconds, cumulative over a resume, and none after an unmeasured part", async () => {
    // Every batch burns 20 ms of this process's CPU time (not wall time, which a loaded machine
    // stretches while the process waits for a core): the measured total must include it.
    const spin = (step: number, rng: Rng) => {
      const t = process.cpuUsage();
      for (;;) {
        const u = process.cpuUsage(t);
        if (u.user + u.system >= 20_000) break;
      }
      return batch(step, rng);
    };
    const dir = tmp();
    const a = opts(dir, { steps: 13, batch: spin });
    await runTrainingLoop(a);
    await a.runner.dispose();
    const first = loadHostCheckpoint<unknown, TrainerState>(dir).trainer!;
    expect(first.cpuSeconds).toBeGreaterThanOrEqual(13 * 0.02 * 0.9);
    const c = opts(dir, { resume: true, batch: spin });
    await runTrainingLoop(c);
    await c.runner.dispose();
    const total = loadHostCheckpoint<unknown, TrainerState>(dir).trainer!;
    expect(total.cpuSeconds! - first.cpuSeconds!).toBeGreaterThanOrEqual(17 * 0.02 * 0.9);

    // A checkpoint from before CPU time was recorded: the resumed total would be a guess, so none.
    const old = tmp();
    const b = opts(old, { steps: 13 });
    await runTrainingLoop(b);
    await b.runner.dispose();
    const ck = loadHostCheckpoint<unknown, TrainerState>(old);
    const { cpuSeconds: _dropped, ...legacy } = ck.trainer!;
    await saveHostCheckpoint(old, { state: ck.state, config: ck.config, trainer: legacy });
    const d = opts(old, { resume: true });
    expect(await runTrainingLoop(d)).toMatchObject({ status: "done", step: 30 });
    await d.runner.dispose();
    expect(loadHostCheckpoint<unknown, TrainerState>(old).trainer?.cpuSeconds).toBeUndefined();
  });

  it("stops at a wall-clock deadline with a checkpoint (status deadline); resume completes it", async () => {
    const dir = tmp();
    const o = opts(dir);
    // The deadline passes while step 6's batch is built: the loop must stop after step 6.
    o.batch = (step, rng) => {
      if (step === 6) o.deadline = Date.now();
      return batch(step, rng);
    };
    o.deadline = Date.now() + 3_600_000;
    const r = await runTrainingLoop(o);
    expect(r).toMatchObject({ status: "deadline", step: 6 });
    expect(loadHostCheckpoint<unknown, TrainerState>(dir).trainer?.step).toBe(6);
    await o.runner.dispose();

    const c = opts(dir, { resume: true });
    expect(await runTrainingLoop(c)).toMatchObject({ status: "done", step: 30 });
    await c.runner.dispose();

    // A deadline that leaves room for every step changes nothing.
    const far = opts(tmp(), { steps: 3, deadline: Date.now() + 3_600_000 });
    expect(await runTrainingLoop(far)).toMatchObject({ status: "done", step: 3 });
    await far.runner.dispose();
  });

  it("predicts the next step from the iteration's wall, batch wait included, not the step alone", async () => {
    // Each batch takes 300 ms to build and the step a few ms; prefetch hides the build from
    // stepSeconds. While step 3's batch-4 prefetch runs, the deadline is set 150 ms ahead: a
    // prediction from stepSeconds would start step 4 (which must wait ~300 ms for its batch) and
    // end past the deadline; the iteration's wall (~300 ms) says stop after step 3.
    const o = opts(tmp(), { steps: 10, prefetch: true });
    o.batch = async (step, rng) => {
      if (step === 4) o.deadline = Date.now() + 150;
      await new Promise((r) => setTimeout(r, 300));
      return batch(step, rng);
    };
    o.deadline = Date.now() + 3_600_000;
    expect(await runTrainingLoop(o)).toMatchObject({ status: "deadline", step: 3 });
    await o.runner.dispose();
  });

  it("refuses to overwrite a checkpoint without --resume or --force", async () => {
    const dir = tmp();
    const a = opts(dir, { steps: 2 });
    await runTrainingLoop(a);
    await expect(runTrainingLoop({ ...a, steps: 4 })).rejects.toThrow(/--resume/);
    await expect(runTrainingLoop({ ...a, steps: 4, force: true })).resolves.toMatchObject({
      step: 4,
    });
    await a.runner.dispose();
  });

  it("stops on a non-finite loss and keeps the last good checkpoint", async () => {
    const dir = tmp();
    const good = (s: number, rng: Rng) => batch(s, rng);
    const poisoned = (s: number, rng: Rng): HostBatch => {
      const b = good(s, rng);
      if (s === 15) b.x.data[0] = Number.NaN;
      return b;
    };
    const o = opts(dir, { batch: poisoned });
    const r = await runTrainingLoop(o);
    expect(r.status).toBe("non-finite");
    expect(r.step).toBe(10);
    expect(r.message).toMatch(/step 15/);
    expect(r.message).toMatch(/last good checkpoint \(step 10\)/);
    const ck = loadHostCheckpoint<unknown, TrainerState>(dir);
    expect(ck.trainer?.step).toBe(10);
    for (const t of ck.state.params.values()) expect(t.data.every(Number.isFinite)).toBe(true);
    await o.runner.dispose();
  });

  it("finishes the step, saves and exits on SIGINT; resume completes the run", async () => {
    const dir = tmp();
    const script = join(import.meta.dirname, "../fixtures/train-script.ts");
    const run = (args: string[], interrupt: boolean) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, ["--import", "tsx", script, dir, "400", ...args], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        p.stdout.on("data", (d) => {
          out += d;
        });
        if (interrupt) {
          const poll = setInterval(() => {
            const m = join(dir, "metrics.jsonl");
            if (existsSync(m) && readFileSync(m, "utf8").split("\n").length > 5) {
              clearInterval(poll);
              // Twice in quick succession, as when npm/npx forwards the terminal's Ctrl-C.
              p.kill("SIGINT");
              setTimeout(() => p.kill("SIGINT"), 20);
            }
          }, 50);
        }
        p.on("exit", (code) => resolve({ code, out }));
      });
    const first = await run([], true);
    expect(first.code).toBe(0);
    const r1 = JSON.parse(first.out);
    expect(r1.status).toBe("interrupted");
    expect(r1.step).toBeGreaterThan(4);
    expect(r1.step).toBeLessThan(400);
    const ck = loadHostCheckpoint<unknown, TrainerState>(dir);
    expect(ck.trainer?.step).toBe(r1.step);
    const second = await run(["--resume"], false);
    expect(JSON.parse(second.out)).toMatchObject({ status: "done", step: 400 });
  });
});
