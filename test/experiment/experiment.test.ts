/**
 * `reca experiment` on the tiny random model (test/helpers/tiny-umm.ts): three rows × two seeds
 * with 2-step stages and a one-item protocol. Scores are noise; what is tested is the job
 * bookkeeping — stage reuse across rows, skip-on-rerun, seeds as training seeds, the
 * protocol recorded and enforced, and the table's arithmetic.
 */

import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadJudge } from "../../src/bench/judge/index.ts";
import type { Detector } from "../../src/bench/judge/types.ts";
import { undPairedDelta } from "../../src/bench/und/index.ts";
import { parseDeadline } from "../../src/cli/options.ts";
import { SceneExclusion } from "../../src/data/corpora.ts";
import { experimentLosses, formatLossTable } from "../../src/experiment/losses.ts";
import {
  EvalProtocolSchema,
  type ExperimentPlan,
  loadPlan,
  parsePlan,
  perItemFor,
  selectRows,
} from "../../src/experiment/plan.ts";
import {
  estimateJobSeconds,
  type JobResult,
  jobDir,
  runExperiment,
  stageChain,
  stageKey,
} from "../../src/experiment/run.ts";
import { experimentStatus, formatStatus } from "../../src/experiment/status.ts";
import {
  buildTable,
  checkClaims,
  compareToBase,
  deltaSection,
  formatClaimsMarkdown,
  formatDeltaMarkdown,
  formatMarkdown,
  genevalSamplingSe,
  meanStd,
  pairedDeltas,
  readResults,
  tCritical95,
} from "../../src/experiment/table.ts";
import { UserError } from "../../src/util/config.ts";
import { type TinyUmm, writeTinyUmm } from "../helpers/tiny-umm.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-exp-"));
let tiny: TinyUmm;
let detect: Detector;

const stageConfig = (recon: number, t2i: number) => ({
  mix: { recon, t2i },
  train: { steps: 2, batch: 2, warmupSteps: 1, checkpointEvery: 1 },
});

function writePlan(): string {
  const dir = join(tmp, "configs");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "reca.json"), JSON.stringify(stageConfig(1, 0)));
  writeFileSync(join(dir, "sft.json"), JSON.stringify(stageConfig(0, 1)));
  const plan = {
    rows: [
      { name: "base", label: "Base" },
      { name: "reca", label: "RecA", stages: ["reca.json"] },
      { name: "sft-reca", label: "SFT → RecA", stages: ["sft.json", "reca.json"] },
    ],
    seeds: [0, 1],
    eval: { suites: ["geneval", "und"], perItem: { geneval: 1 }, limit: 1, gapSamples: 0 },
    claims: [
      {
        claim: "RecA beats SFT → RecA",
        row: "reca",
        against: "sft-reca",
        metrics: ["overall", "und"],
      },
    ],
  };
  const path = join(dir, "plan.json");
  writeFileSync(path, JSON.stringify(plan));
  return path;
}

beforeAll(async () => {
  tiny = await writeTinyUmm(tmp, { numCategories: 2 });
  detect = await loadJudge("checkpoints/judge");
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("experiment plans", () => {
  it("resolves stages against the plan file and validates them up front", () => {
    const plan = loadPlan(writePlan());
    expect(plan.rows.map((r) => r.stages.length)).toEqual([0, 1, 2]);
    expect(plan.rows[1].stages[0].config.mix).toEqual({ recon: 1, t2i: 0 });
    expect(plan.eval).toMatchObject({ limit: 1, sampleSteps: null, gapSamples: 0 });
    expect(perItemFor(plan.eval, "geneval")).toBe(1);
    expect(perItemFor(plan.eval, "dpg")).toBeUndefined();
    expect(perItemFor({ ...plan.eval, perItem: 3 }, "edit")).toBe(3);
    expect(() =>
      parsePlan({ rows: [{ name: "x", label: "X", stages: ["missing.json"] }] }, "p.json", tmp),
    ).toThrow(/row x: config file not found: .*missing\.json/);
    expect(() =>
      parsePlan(
        {
          rows: [
            { name: "a", label: "A" },
            { name: "a", label: "B" },
          ],
        },
        "p.json",
        tmp,
      ),
    ).toThrow(/duplicate row a/);
    expect(() => parsePlan({ rows: [{ name: "Bad Name", label: "B" }] }, "p.json", tmp)).toThrow(
      UserError,
    );
    expect(plan.claims).toEqual([
      {
        claim: "RecA beats SFT → RecA",
        row: "reca",
        against: "sft-reca",
        metrics: ["overall", "und"],
      },
    ]);
    const rows = [
      { name: "a", label: "A" },
      { name: "b", label: "B" },
    ];
    const claim = (row: string, against: string) => ({
      rows,
      claims: [{ claim: "c", row, against, metrics: ["overall"] }],
    });
    expect(() => parsePlan(claim("a", "zz"), "p.json", tmp)).toThrow(
      /claims.*no row zz in this plan/s,
    );
    expect(() => parsePlan(claim("a", "a"), "p.json", tmp)).toThrow(/two different rows/);
    expect(parsePlan(claim("a", "b"), "p.json", tmp).claims[0].against).toBe("b");
    expect(() => selectRows(plan, ["reca", "nope"])).toThrow(/unknown row\(s\) nope/);
    expect(selectRows(plan, ["sft-reca", "base"]).map((r) => r.name)).toEqual(["base", "sft-reca"]);
  });

  it("the shipped paper plan loads with every stage config valid", () => {
    const plan = loadPlan("configs/experiments/paper.json");
    expect(plan.rows.map((r) => r.name)).toEqual([
      "base",
      "sft",
      "sft-complete",
      "reca",
      "sft-reca",
      "reca-vae",
      "reca-full-resolution",
      "reca-single-template",
    ]);
    expect(plan.seeds).toEqual([0, 1, 2]);
    // The paper's findings the table checks, each naming columns the table has.
    expect(plan.claims.map((c) => `${c.row}−${c.against}`)).toEqual([
      "reca−base",
      "reca−base",
      "reca−base",
      "reca−sft",
      "sft-reca−sft",
      "reca−reca-vae",
      "reca−reca-full-resolution",
      "reca−reca-single-template",
    ]);
    expect(() => checkClaims([], plan.claims)).not.toThrow();
    const oracle = plan.rows.find((r) => r.name === "sft-complete")!;
    expect(oracle.stages[0].config.sftCaptions).toBe("complete");
    const sft = plan.rows.find((r) => r.name === "sft")!.stages[0].config;
    expect(sft.sftCaptions).toBe("sparse");
    // A field added later keys a stage only when it changes the training: stages trained before
    // sftCaptions existed keep their folders; the oracle's stage is a different one.
    const { sftCaptions: _, ...before } = sft;
    const key = (c: unknown) => stageKey("base:x", c as typeof sft);
    expect(key(sft)).toBe(key(before));
    expect(key({ ...sft, sftCaptions: "complete" })).not.toBe(key(sft));
  });
});

/** "row/seed" of each job, in order. */
const ids = (jobs: readonly { row: string; seed: number }[]) =>
  jobs.map((j) => `${j.row}/${j.seed}`);
/** The plan's jobs at seeds 0 and 1, seed-major as the runner takes them. */
const SEED_0_1_JOBS = ["base/0", "reca/0", "sft-reca/0", "base/1", "reca/1", "sft-reca/1"];

describe("reca experiment run", () => {
  const out = join(tmp, "exp");
  let first: JobResult[];
  const run = async (
    plan: ExperimentPlan,
    seeds: number[],
    extra: Partial<Parameters<typeof runExperiment>[0]> = {},
  ) => {
    const lines: string[] = [];
    const results = await runExperiment({
      ...extra,
      plan,
      from: tiny.model,
      out,
      rows: plan.rows,
      seeds,
      detect,
      parallelism: "kernel",
      chunk: 2,
      quiet: true,
      exclude: new SceneExclusion(),
      log: (l) => lines.push(l),
    });
    return { results, lines };
  };

  it("trains each stage once, evaluates every row × seed and records the protocol", async () => {
    const plan = loadPlan(join(tmp, "configs", "plan.json"));
    const { results, lines } = await run(plan, plan.seeds);
    first = results;
    expect(ids(first)).toEqual(SEED_0_1_JOBS);
    // Stages: per seed one RecA-from-base, one SFT, one RecA-from-SFT — 3 × 2 seeds.
    expect(readdirSync(join(out, "stages"))).toHaveLength(6);
    // RecA from base and RecA from SFT are different stages even with the same config.
    const reca0 = first[1].stages[0].dir;
    const sftReca0 = first[2].stages[1].dir;
    expect(reca0).not.toBe(sftReca0);
    // Seeds are training seeds: seed 0 and seed 1 train different stage folders.
    expect(first[4].stages[0].dir).not.toBe(reca0);
    for (const r of first) {
      expect(r.protocol).toMatchObject({ suites: ["geneval", "und"], limit: 1 });
      expect(r.eval.geneval).toMatchObject({ items: 1, perItem: 1, images: 1 });
      expect(r.eval.und?.questions).toBeGreaterThan(0);
      expect(r.gap).toBeNull();
      expect(existsSync(join(jobDir(out, r.row, r.seed), "result.json"))).toBe(true);
      if (r.row === "base") expect(r.trainCpuMinutes).toBe(0);
      else {
        expect(r.trainCpuMinutes).toBeGreaterThan(0);
        for (const s of r.stages) {
          expect(s.steps).toBe(2);
          // Measured process CPU time, not wall × threads.
          expect(s.cpuMeasured).toBe(true);
          expect(s.cpuMinutes).toBeGreaterThan(0);
        }
      }
    }
    expect(lines.some((l) => /stage sft: 2 steps/.test(l))).toBe(true);
  });

  it("with a deadline, starts no job expected to end after it", async () => {
    const plan = loadPlan(join(tmp, "configs", "plan.json"));
    // Seed 5 is new; the finished seeds 0–1 say how long its jobs take, and none has a second
    // left.
    // base/5 is held by another live process: reported as running there, not timed.
    const now = Date.parse("2026-11-28T12:00:00Z");
    mkdirSync(jobDir(out, "base", 5), { recursive: true });
    writeFileSync(join(jobDir(out, "base", 5), ".lock"), `${process.ppid}\n`);
    const { results, lines } = await run(plan, [5], { deadline: now + 1, now: () => now });
    rmSync(jobDir(out, "base", 5), { recursive: true });
    expect(results).toEqual([]);
    expect(lines[1]).toMatch(/^ {2}skipped: process \d+ is running this job/);
    const late = lines.filter((l) => /^ {2}not started: expected to take \d+ min/.test(l));
    expect(late).toHaveLength(2);
    expect(lines.at(-1)).toBe("2 jobs not started: expected to end past the deadline");
    expect(existsSync(jobDir(out, "reca", 5))).toBe(false);
    expect(readdirSync(join(out, "stages")).filter((d) => !d.endsWith(".lock"))).toHaveLength(6);
  });

  it("reruns skip finished jobs and reuse a shared stage", async () => {
    const plan = loadPlan(join(tmp, "configs", "plan.json"));
    // A new row whose first stage is the SFT stage sft-reca already trained.
    plan.rows.push({ name: "sft", label: "SFT", stages: [plan.rows[2].stages[0]] });
    const { results: again, lines } = await run(plan, [0]);
    expect(lines.filter((l) => /: done \(/.test(l))).toHaveLength(3);
    expect(lines.some((l) => /stage sft: reusing/.test(l))).toBe(true);
    expect(lines.some((l) => /steps →/.test(l))).toBe(false);
    expect(again.find((r) => r.row === "sft")?.stages[0].dir).toBe(first[2].stages[0].dir);
    expect(readdirSync(join(out, "stages"))).toHaveLength(6);
  });

  it("tabulates mean ± std per row and refuses mixed protocols", () => {
    const results = readResults(out);
    const rows = buildTable(results, ["base", "reca", "sft-reca"]);
    expect(rows.map((r) => r.row)).toEqual(["base", "reca", "sft-reca", "sft"]);
    const reca = rows[1];
    expect(reca.seeds).toEqual([0, 1]);
    const overall = results.filter((r) => r.row === "reca").map((r) => r.eval.geneval!.overall);
    expect(reca.cells.overall).toEqual(meanStd(overall));
    expect(reca.cells.dpg).toBeNull();
    const md = formatMarkdown(rows);
    const head = md.split("\n")[0];
    expect(head.startsWith("| Setting | n | ")).toBe(true);
    expect(head.indexOf("Overall")).toBeLessThan(head.indexOf("Und"));
    expect(head.endsWith("| Und | CPU-min |")).toBe(true);
    expect(md).toMatch(/\| SFT → RecA \| 2 \|/);
    expect(md).not.toMatch(/DPG/);

    // The notes under the table come from the paired differences, so a row is only ever set
    // against the base on the seeds both finished.
    const deltas = pairedDeltas(results);
    const notes = compareToBase(deltas, ["base", "reca", "sft-reca"]);
    expect(notes).toHaveLength(3);
    const dOverall = deltas.find((d) => d.row === "reca")!.cells.overall!.mean;
    expect(notes[0]).toContain(`RecA vs Base (seeds 0, 1): GenEval ${dOverall >= 0 ? "+" : "−"}`);
    expect(notes[0]).toContain(Math.abs(dOverall).toFixed(3));
    const fake = (und: number) => ({ mean: und, std: 0, n: 1 });
    const flagged = compareToBase([
      { row: "reca", label: "RecA", seeds: [0], cells: { und: fake(-1.5) } },
      { row: "sft-reca", label: "SFT → RecA", seeds: [0, 2], cells: { und: fake(-0.5) } },
    ]);
    expect(flagged[0]).toBe("RecA vs Base (seed 0): und −1.5 points (drops > 1 point)");
    expect(flagged[1]).toBe("SFT → RecA vs Base (seeds 0, 2): und −0.5 points");
    // A row with fewer finished seeds than the base is compared on its own seeds only.
    const oneSeed = results.filter((r) => !(r.row === "reca" && r.seed === 1));
    const recaBase = (s: number) =>
      oneSeed.find((r) => r.row === "reca" && r.seed === s)!.eval.geneval!.overall -
      oneSeed.find((r) => r.row === "base" && r.seed === s)!.eval.geneval!.overall;
    const line = compareToBase(pairedDeltas(oneSeed), ["base", "reca"])[0];
    expect(line).toContain("(seed 0)");
    expect(line).toContain(Math.abs(recaBase(0)).toFixed(3));

    const mixed = results.map((r) =>
      r.row === "reca" && r.seed === 1 ? { ...r, protocol: { ...r.protocol, limit: 2 } } : r,
    );
    expect(() => buildTable(mixed)).toThrow(/row reca: .*2 different protocols/);
  });

  it("skips a job or a stage another live process holds, and takes over a dead process's lock", async () => {
    const plan = loadPlan(join(tmp, "configs", "plan.json"));
    const reca = { ...plan, rows: plan.rows.filter((r) => r.name === "reca") };
    const live = process.ppid; // alive for the whole test, and not this process
    const dead = spawnSync("true").pid!; // exited and reaped
    const jobLock = join(jobDir(out, "reca", 2), ".lock");
    mkdirSync(jobDir(out, "reca", 2), { recursive: true });

    writeFileSync(jobLock, `${live}\n`);
    let r = await run(reca, [2]);
    expect(r.results).toEqual([]);
    expect(r.lines.some((l) => l.includes(`skipped: process ${live} is running this job`))).toBe(
      true,
    );
    expect(r.lines.some((l) => /steps →/.test(l))).toBe(false);
    rmSync(jobLock);

    const cfg = structuredClone(reca.rows[0].stages[0].config);
    cfg.train.seed = 2;
    const key = stageKey(`base:${resolve(tiny.model)}`, cfg);
    const stageLock = `${join(out, "stages", `reca-${key.slice(0, 12)}`)}.lock`;
    writeFileSync(stageLock, `${live}\n`);
    r = await run(reca, [2]);
    expect(r.results).toEqual([]);
    expect(r.lines.some((l) => l.includes(`skipped: process ${live} is training stage reca`))).toBe(
      true,
    );
    expect(existsSync(jobLock)).toBe(false); // the job's own lock was released

    writeFileSync(stageLock, `${dead}\n`);
    writeFileSync(jobLock, `${dead}\n`);
    r = await run(reca, [2]);
    expect(ids(r.results)).toEqual(["reca/2"]);
    expect(r.lines.some((l) => /stage reca: 2 steps →/.test(l))).toBe(true);
    expect(existsSync(stageLock) || existsSync(jobLock)).toBe(false);
  });

  it("reports each job's state without changing the folder", () => {
    const plan = loadPlan(join(tmp, "configs", "plan.json"));
    const status = (p: ExperimentPlan = plan) =>
      experimentStatus({ plan: p, from: tiny.model, out, rows: p.rows, seeds: [0, 1, 2] });
    const before = readdirSync(out, { recursive: true }).sort();
    let jobs = status();
    const state = (row: string, seed: number) =>
      jobs.find((j) => j.row === row && j.seed === seed)?.state;
    expect(ids(jobs).slice(0, 4)).toEqual(SEED_0_1_JOBS.slice(0, 4));
    expect(ids(jobs.filter((j) => j.state === "done"))).toEqual([...SEED_0_1_JOBS, "reca/2"]);
    expect(state("base", 2)).toBe("pending");
    expect(state("sft-reca", 2)).toBe("pending");
    const reca2 = jobs.find((j) => j.row === "reca" && j.seed === 2)!;
    expect(reca2.geneval).toBeTypeOf("number");
    expect(reca2.stages).toEqual([expect.objectContaining({ name: "reca", step: 2, steps: 2 })]);

    // Another protocol: done jobs are reported as such, not as done.
    const other = { ...plan, eval: { ...plan.eval, limit: 2 } };
    expect(status(other).filter((j) => j.state === "other-protocol")).toHaveLength(7);

    // A live holder of base/2; a live trainer of sft-reca/2's SFT stage; then a stopped one.
    const live = process.ppid;
    const jobLock = join(jobDir(out, "base", 2), ".lock");
    mkdirSync(jobDir(out, "base", 2), { recursive: true });
    writeFileSync(jobLock, `${live}\n`);
    const sftReca = plan.rows.find((r) => r.name === "sft-reca")!;
    const [sftStage] = stageChain({ from: tiny.model, out }, sftReca, 2);
    writeFileSync(`${sftStage.dir}.lock`, `${live}\n`);
    jobs = status();
    expect(state("base", 2)).toBe("running");
    expect(jobs.find((j) => j.row === "base" && j.seed === 2)?.runningBy).toBe(live);
    expect(state("sft-reca", 2)).toBe("waiting");
    rmSync(`${sftStage.dir}.lock`);
    cpSync(reca2.stages[0].dir, sftStage.dir, { recursive: true });
    const trainer = join(sftStage.dir, "trainer.json");
    writeFileSync(
      trainer,
      JSON.stringify({ ...JSON.parse(readFileSync(trainer, "utf8")), step: 1 }),
    );
    // Its stage trained (by a job sharing it) but the job itself never started: pending.
    jobs = status();
    expect(state("sft-reca", 2)).toBe("pending");
    expect(formatStatus(jobs)).toMatch(
      /\| sft-reca \| 2 \| pending \| not started \(sft 1\/2, reca 0\/2\) \|/,
    );
    mkdirSync(jobDir(out, "sft-reca", 2), { recursive: true });
    jobs = status();
    expect(state("sft-reca", 2)).toBe("partial");
    const md = formatStatus(jobs);
    expect(md).toMatch(/\| sft-reca \| 2 \| partial \| stopped: sft 1\/2, reca 0\/2;/);
    expect(md).toMatch(/\| base \| 2 \| running \| pid \d+, evaluating \|/);
    expect(md.split("\n").at(-2)).toBe("7 of 9 jobs done; 1 running, 1 partial");
    // What is left to run, timed by the finished jobs (the running one is not counted).
    const partial = jobs.find((j) => j.row === "sft-reca" && j.seed === 2)!;
    expect(partial.estimateSeconds).toBeGreaterThan(0);
    expect(jobs.find((j) => j.row === "base" && j.seed === 2)?.estimateSeconds).toBeUndefined();
    expect(md.split("\n").at(-1)).toMatch(
      /^the 1 job still to run would take about \d+\.\d h of one process, judged by the finished jobs$/,
    );
    rmSync(jobDir(out, "base", 2), { recursive: true });
    rmSync(jobDir(out, "sft-reca", 2), { recursive: true });
    rmSync(sftStage.dir, { recursive: true });
    expect(readdirSync(out, { recursive: true }).sort()).toEqual(before);
  });
});

/** `reca experiment <command> --plan <the test plan> ...args`, spawned as a user would run it. */
function experimentCli(command: string, ...args: string[]) {
  const plan = join(tmp, "configs", "plan.json");
  return spawnSync(
    process.execPath,
    ["bin/reca.mjs", "experiment", command, "--plan", plan, ...args],
    { encoding: "utf8", timeout: 60_000 },
  );
}

describe("reca experiment losses", () => {
  // Reads the folder the run tests above trained (2-step stages, seeds 0–1, reca seed 2).
  const out = join(tmp, "exp");

  it("lists each stage's curve once, a shared stage with every row that uses it", () => {
    const plan = loadPlan(join(tmp, "configs", "plan.json"));
    const sftReca = plan.rows.find((r) => r.name === "sft-reca")!;
    plan.rows.push({ name: "sft", label: "SFT", stages: [sftReca.stages[0]] });
    const stages = experimentLosses({ from: tiny.model, out, rows: plan.rows, seeds: [0, 1, 3] });
    expect(stages.filter((s) => s.seed === 0).map((s) => [s.stage, s.rows])).toEqual([
      ["reca", ["reca"]],
      ["sft", ["sft-reca", "sft"]],
      ["reca", ["sft-reca"]],
    ]);
    for (const s of stages.filter((x) => x.seed < 2)) {
      expect(s.points.map((p) => p.step)).toEqual([1, 2]);
      expect(s.summary).toMatchObject({ steps: 2, first: s.points[0].loss });
    }
    const notStarted = stages.filter((s) => s.seed === 3);
    expect(notStarted).toHaveLength(3);
    expect(notStarted.every((s) => s.points.length === 0 && s.summary === null)).toBe(true);
    const md = formatLossTable(stages);
    expect(md).toMatch(/\| SFT → RecA, sft stage \(seed 0\) \| sft-reca, sft \| 2 \| \d/);
    expect(md).toMatch(/\| RecA \(seed 3\) \| reca \| not started \| – \|/);
    // The generation part alone (reconstruction rows in RecA, captions in SFT): logged at every
    // step, below the total, which adds the weighted text loss.
    const gen = experimentLosses({
      from: tiny.model,
      out,
      rows: plan.rows,
      seeds: [0],
      part: "gen",
    });
    for (const [i, s] of gen.entries()) {
      const total = stages.filter((x) => x.seed === 0)[i];
      expect(s.points.map((p) => p.step)).toEqual([1, 2]);
      s.points.forEach((p, j) => {
        expect(p.loss).toBeGreaterThan(0);
        expect(p.loss).toBeLessThan(total.points[j].loss);
      });
    }
    const none = experimentLosses({
      from: tiny.model,
      out,
      rows: plan.rows,
      seeds: [0],
      part: "x",
    });
    expect(formatLossTable(none, "x")).toMatch(/\| RecA \| reca \| no "x" logged \| – \|/);
  });

  it("the command draws the curves, and refuses a folder with nothing logged", () => {
    const cli = (...args: string[]) => experimentCli("losses", "--from", tiny.model, ...args);
    const svg = join(tmp, "loss.svg");
    const json = join(tmp, "loss.json");
    const r = cli("--out", out, "--seeds", "0,1", "--svg", svg, "--smooth", "1", "--json", json);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\| stage \| rows \| steps \|/);
    const drawn = readFileSync(svg, "utf8");
    expect(drawn.match(/<polyline /g)).toHaveLength(6); // (reca, sft, sft-reca's reca) × 2 seeds
    expect(JSON.parse(readFileSync(json, "utf8")).stages).toHaveLength(6);
    const empty = mkdtempSync(join(tmp, "empty-"));
    const e = cli("--out", empty, "--svg", join(tmp, "x.svg"));
    expect(e.status).toBe(2);
    expect(e.stderr.trim()).toMatch(/^reca: .*no stage has logged a step yet$/);
    expect(existsSync(join(tmp, "x.svg"))).toBe(false);
    const g = cli("--out", out, "--seeds", "0", "--part", "gen", "--svg", svg);
    expect(g.status).toBe(0);
    expect(readFileSync(svg, "utf8")).toContain("Training loss (part: gen)");
    const p = cli("--out", out, "--seeds", "0", "--part", "recon", "--svg", join(tmp, "x.svg"));
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/no stage has logged the loss part "recon"/);
  });
});

describe("reca experiment table (command)", () => {
  // The same folder: rows base/reca/sft-reca at seeds 0–1, and reca alone at seed 2.
  const out = join(tmp, "exp");
  const cli = (...args: string[]) => experimentCli("table", ...args);

  it("--seeds keeps only those seeds' jobs, checks the plan's claims, and names the seeds it cannot find", () => {
    const all = join(tmp, "table-all.json");
    const one = join(tmp, "table-seed-2.json");
    expect(cli("--out", out, "--json", all).status).toBe(0);
    const r = cli("--out", out, "--seeds", "2", "--json", one, "--markdown", join(tmp, "t.md"));
    expect(r.status).toBe(0);
    type Row = { row: string; seeds: number[] };
    const allRows = (JSON.parse(readFileSync(all, "utf8")) as { rows: Row[] }).rows;
    const oneRows = (JSON.parse(readFileSync(one, "utf8")) as { rows: Row[] }).rows;
    // Unfiltered, reca has three seeds; at --seeds 2 only reca's seed-2 job is left.
    expect(allRows.find((x) => x.row === "reca")?.seeds).toEqual([0, 1, 2]);
    expect(oneRows.map((x) => [x.row, x.seeds])).toEqual([["reca", [2]]]);
    expect(readFileSync(join(tmp, "t.md"), "utf8").trim()).toBe(r.stdout.trim());
    // The plan's claim (RecA against SFT → RecA) is checked over the seeds both finished.
    type Check = {
      row: string;
      against: string;
      seeds: number[];
      metrics: { key: string; reading: string }[];
    };
    const claims = (JSON.parse(readFileSync(all, "utf8")) as { claims: Check[] }).claims;
    expect(claims.map((c) => [c.row, c.against, c.seeds])).toEqual([["reca", "sft-reca", [0, 1]]]);
    expect(claims[0].metrics.map((m) => m.key)).toEqual(["overall", "und"]);
    const allMd = cli("--out", out).stdout;
    expect(allMd).toMatch(
      /\| RecA beats SFT → RecA \| RecA − SFT → RecA \| Overall \| .* \(s0\), .* \(s1\) \|/,
    );
    const bare = cli("--out", out, "--no-claims");
    expect(bare.status).toBe(0);
    expect(bare.stdout).not.toContain("RecA beats SFT → RecA");
    expect(bare.stdout).toContain("| Δ vs Base (paired by seed) |");
    const none = cli("--out", out, "--seeds", "7");
    expect(none.status).toBe(2);
    expect(none.stderr.trim()).toMatch(/^reca: .*no finished jobs for seeds 7 /);
  });
});

describe("job estimates and deadlines", () => {
  const protocol = EvalProtocolSchema.parse({});
  const job = (evalSeconds: number, stages: [string, number, number][] = []) =>
    ({
      protocol,
      evalSeconds,
      stages: stages.map(([config, steps, wallSeconds]) => ({ config, steps, wallSeconds })),
    }) as unknown as JobResult;

  it("estimates a job from finished ones: median eval plus remaining steps at the stage's pace", () => {
    const finished = [
      job(600),
      job(700, [["/c/sft.json", 200, 1000]]),
      job(900, [["/c/reca.json", 100, 300]]),
    ];
    // Eval median 700 s; 150 SFT steps left at 5 s/step.
    expect(estimateJobSeconds(finished, protocol, [{ name: "sft", steps: 200, done: 50 }])).toBe(
      700 + 150 * 5,
    );
    // A trained stage costs nothing; a config never trained goes at the median pace of any (4 s).
    expect(
      estimateJobSeconds(finished, protocol, [
        { name: "sft", steps: 200, done: 200 },
        { name: "other", steps: 10, done: 0 },
      ]),
    ).toBe(700 + 10 * 4);
    // Nothing finished under this protocol, or no stage ever trained: no estimate.
    const other = EvalProtocolSchema.parse({ limit: 3 });
    expect(estimateJobSeconds(finished, other, [])).toBeNull();
    expect(estimateJobSeconds([job(600)], protocol, [{ name: "x", steps: 1, done: 0 }])).toBeNull();
  });

  it("reads a deadline as minutes from now, a local clock time or an ISO date-time", () => {
    const now = new Date(2026, 10, 28, 15, 30).getTime(); // local 15:30
    expect(parseDeadline("+45", "deadline", now)).toBe(now + 45 * 60_000);
    expect(parseDeadline("16:20", "deadline", now)).toBe(new Date(2026, 10, 28, 16, 20).getTime());
    // A clock time already past today means tomorrow.
    expect(parseDeadline("09:00", "deadline", now)).toBe(new Date(2026, 10, 29, 9, 0).getTime());
    expect(parseDeadline("2026-11-28T16:20:00Z", "deadline", now)).toBe(
      Date.parse("2026-11-28T16:20:00Z"),
    );
    for (const bad of ["soon", "25:00", "2026-11-28", "45", "+-3"])
      expect(() => parseDeadline(bad, "deadline", now)).toThrow(/--deadline must be \+MINUTES/);
  });
});

describe("meanStd", () => {
  it("is the sample standard deviation, undefined for one value", () => {
    expect(meanStd([1, 2, 3])).toEqual({ mean: 2, std: 1, n: 3 });
    expect(Number.isNaN(meanStd([5])!.std)).toBe(true);
    expect(meanStd([])).toBeNull();
  });
});

describe("pairedDeltas", () => {
  // Minimal results: only what the columns read. Seed s of every row shares sampling noise.
  const job = (
    row: string,
    seed: number,
    overall: number,
    und: number,
    limit: number | null = null,
  ) =>
    ({
      row,
      label: row.toUpperCase(),
      seed,
      protocol: { suites: ["geneval", "und"], limit },
      stages: [],
      trainCpuMinutes: 9,
      eval: { geneval: { overall, tags: { position: overall / 2 } }, und: { overall: und } },
      gap: null,
    }) as unknown as JobResult;

  it("subtracts the base seed by seed, so shared sampling noise cancels", () => {
    // The base varies a lot across seeds (noise); RecA is the base + 0.02 on every seed.
    const results = [
      job("base", 0, 0.1, 0.7),
      job("base", 1, 0.3, 0.72),
      job("base", 2, 0.2, 0.71),
      job("reca", 0, 0.12, 0.69),
      job("reca", 1, 0.32, 0.71),
      job("reca", 2, 0.22, 0.7),
    ];
    const [d] = pairedDeltas(results);
    expect(d.row).toBe("reca");
    expect(d.seeds).toEqual([0, 1, 2]);
    expect(d.cells.overall!.mean).toBeCloseTo(0.02, 12);
    expect(d.cells.overall!.std).toBeCloseTo(0, 12); // unpaired, the std would be 0.1
    expect(d.cells.position!.mean).toBeCloseTo(0.01, 12);
    expect(d.cells.und!.mean).toBeCloseTo(-1, 9); // points
    expect(d.cells.cpuMinutes).toBeUndefined(); // cost is not a score
    const md = formatDeltaMarkdown([d], [], "Base");
    expect(md.split("\n")[0]).toMatch(/^\| Δ vs Base \(paired by seed\) \| n \| /);
    expect(md).toMatch(/\| RECA \| 3 \| .*\+0\.020 ± 0\.000/);
    expect(md).toMatch(/−1\.0 ± 0\.0/);
  });

  it("pairs only seeds the base has, under the same protocol", () => {
    const results = [
      job("base", 0, 0.1, 0.7),
      job("reca", 0, 0.15, 0.7),
      job("reca", 1, 0.5, 0.7), // no base seed 1: not paired
      job("vae", 0, 0.2, 0.7, 3), // another protocol: not compared
    ];
    const ds = pairedDeltas(results);
    expect(ds.map((d) => d.row)).toEqual(["reca"]);
    expect(ds[0].seeds).toEqual([0]);
    expect(ds[0].cells.overall!.mean).toBeCloseTo(0.05, 12);
    expect(pairedDeltas(results.filter((r) => r.row !== "base"))).toEqual([]);
    expect(deltaSection(results.filter((r) => r.row !== "base"))).toBe("");
  });

  it("gives und's paired standard error over questions when both sides kept per-question outcomes", () => {
    const withOutcomes = (row: string, seed: number, correct: string) => {
      const r = job(row, seed, 0.1, [...correct].filter((c) => c === "1").length / correct.length);
      return { ...r, eval: { ...r.eval, und: { ...r.eval.und, correct } } } as JobResult;
    };
    // Seed 0: RecA loses questions 1–2 and gains 3 (Δ −10 points on 10); seed 1: the same answers.
    const results = [
      withOutcomes("base", 0, "1100011111"),
      withOutcomes("reca", 0, "0010011111"),
      withOutcomes("base", 1, "1111100000"),
      withOutcomes("reca", 1, "1111100000"),
    ];
    const [d] = pairedDeltas(results);
    const se0 = undPairedDelta({ correct: "1100011111" }, { correct: "0010011111" })!.se;
    expect(se0).toBeCloseTo(10 * Math.sqrt(3 - 1 / 10), 10);
    expect(d.undPairedSe).toBeCloseTo(Math.sqrt(se0 ** 2 + 0) / 2, 10);
    expect(d.cells.und!.mean).toBeCloseTo(-5, 9);
    expect(compareToBase([d])[0]).toContain(
      `und −5.0 points (paired SE ${d.undPairedSe!.toFixed(1)}) (drops > 1 point)`,
    );
    // One side without outcomes (evaluated before they were kept): no SE rather than a wrong one.
    const old = results.map((r) =>
      r.row === "base" && r.seed === 1 ? job("base", 1, 0.1, 0.5) : r,
    );
    expect(pairedDeltas(old)[0].undPairedSe).toBeUndefined();
  });

  it("gives the binomial sampling error of GenEval overall, and of a paired difference", () => {
    // Two tags: 6 of 12 single-object images, 0 of 32 position images.
    const counted = (row: string, seed: number, single: number, position: number) =>
      ({
        ...job(row, seed, (single + position) / 2, 0.7),
        eval: {
          geneval: {
            overall: (single + position) / 2,
            tags: { single_object: single, position },
            imagesPerTag: { single_object: 12, position: 32 },
          },
        },
      }) as unknown as JobResult;
    const base = counted("base", 0, 0.5, 0);
    // p = (6+1)/14 = 0.5 and (0+1)/34: √(0.25/12 + (1/34)(33/34)/32) / 2.
    const expected = Math.sqrt(0.25 / 12 + (1 / 34) * (33 / 34) * (1 / 32)) / 2;
    expect(genevalSamplingSe(base)).toBeCloseTo(expected, 12);
    expect(genevalSamplingSe(job("base", 0, 0.1, 0.7))).toBeUndefined(); // no image counts
    const results = [
      base,
      counted("base", 1, 0.5, 0),
      counted("reca", 0, 0.5, 0),
      counted("reca", 1, 0.5, 0),
    ];
    const [d] = pairedDeltas(results);
    // Two independent sides per seed, averaged over two seeds: √(2·se²) / √2 = se.
    expect(d.overallSamplingSe).toBeCloseTo(expected, 12);
    expect(compareToBase([d])[0]).toBe(
      `RECA vs Base (seeds 0, 1): GenEval +0.000 (sampling SE ≤ ${expected.toFixed(3)})`,
    );
  });
});

describe("checkClaims", () => {
  // Two tags (12 single-object and 32 position images) and 10 und questions per result.
  const res = (row: string, seed: number, single: number, dpg: number, correct?: string) =>
    ({
      row,
      label: row.toUpperCase(),
      seed,
      protocol: { suites: ["geneval", "dpg", "und"] },
      stages: [],
      eval: {
        geneval: {
          overall: single / 2,
          tags: { single_object: single, position: 0 },
          imagesPerTag: { single_object: 12, position: 32 },
        },
        dpg: { overall: dpg },
        und: correct
          ? { overall: [...correct].filter((c) => c === "1").length / correct.length, correct }
          : { overall: 0.5 },
      },
      gap: null,
    }) as unknown as JobResult;
  const claim = (metrics: string[]) => ({ claim: "A beats B", row: "a", against: "b", metrics });

  it("tests the paired difference over seeds with Student's t at 95%", () => {
    expect(tCritical95(1)).toBe(12.706);
    expect(tCritical95(2)).toBe(4.303);
    expect(tCritical95(500)).toBe(1.96);
    expect(() => tCritical95(0)).toThrow(/degree of freedom/);
    // DPG: A is 3, 4 and 5 points above B at seeds 0–2 (t = 4 / (1/√3) ≈ 6.9 > 4.303);
    // swapped, B is the higher side.
    const results = [
      res("a", 0, 0.5, 23),
      res("b", 0, 0.5, 20),
      res("a", 1, 0.5, 25),
      res("b", 1, 0.5, 21),
      res("a", 2, 0.5, 27),
      res("b", 2, 0.5, 22),
    ];
    const [c] = checkClaims(results, [claim(["dpg"])]);
    const [m] = c.metrics;
    expect(m.diffs).toEqual([
      { seed: 0, d: 3 },
      { seed: 1, d: 4 },
      { seed: 2, d: 5 },
    ]);
    expect(m.t).toBeCloseTo(4 / (1 / Math.sqrt(3)), 9);
    expect(m.critical).toBe(4.303);
    expect(m.measurementSe).toBeUndefined(); // DPG keeps no per-item outcomes
    expect(m.reading).toBe("row");
    const [flipped] = checkClaims(results, [{ ...claim(["dpg"]), row: "b", against: "a" }]);
    expect(flipped.metrics[0].reading).toBe("against");
    // A spread as large as the mean is not resolved: 3, −1, 5 → mean 2.3, std 3.1, t ≈ 1.3.
    const noisy = results.map((r) => (r.row === "a" && r.seed === 1 ? res("a", 1, 0.5, 20) : r));
    expect(checkClaims(noisy, [claim(["dpg"])])[0].metrics[0].reading).toBe("unresolved");
    const md = formatClaimsMarkdown([c]);
    expect(md).toContain(
      "| A beats B | A − B | DPG | +3.0 (s0), +4.0 (s1), +5.0 (s2) | +4.0 ± 1.0 |",
    );
    expect(md).toContain("| +6.9 (±4.30) | A higher |");
  });

  it("never reads less error than the measurement allows, nor certainty from no spread", () => {
    // Und: A answers one more question of 10 than B at both seeds — the same +10 points twice,
    // zero spread, but a paired SE over questions of 10 points per seed.
    const results = [0, 1].flatMap((s) => [
      res("a", s, 0.5, 20, "1100000000"),
      res("b", s, 0.5, 20, "1000000000"),
    ]);
    const [m] = checkClaims(results, [claim(["und"])])[0].metrics;
    expect(m.cell).toMatchObject({ mean: 10, n: 2 });
    expect(m.cell!.std).toBeCloseTo(0, 9);
    const se1 = undPairedDelta({ correct: "1000000000" }, { correct: "1100000000" })!.se;
    expect(m.measurementSe).toBeCloseTo(Math.sqrt(2 * se1 ** 2) / 2, 9);
    expect(m.se).toBeCloseTo(m.measurementSe!, 9);
    expect(m.reading).toBe("unresolved");
    // A seed evaluated before und kept outcomes counts as the other seeds' error.
    const old = results.map((r) => (r.seed === 1 ? res(r.row, 1, 0.5, 20) : r));
    old[2] = { ...old[2], eval: { ...old[2].eval, und: { overall: 0.2 } } } as JobResult;
    old[3] = { ...old[3], eval: { ...old[3].eval, und: { overall: 0.1 } } } as JobResult;
    expect(checkClaims(old, [claim(["und"])])[0].metrics[0].measurementSe).toBeCloseTo(
      se1 / Math.sqrt(2),
      9,
    );
    // GenEval: a tag's binomial error is the floor too: 7 against 6 of 12 single objects at
    // both seeds is +0.08 twice, within the error of 12 images.
    const tags = [0, 1].flatMap((s) => [res("a", s, 7 / 12, 20), res("b", s, 6 / 12, 20)]);
    const [single] = checkClaims(tags, [claim(["single"])])[0].metrics;
    expect(single.cell!.mean).toBeCloseTo(1 / 12, 9);
    expect(single.measurementSe).toBeGreaterThan(0.1);
    expect(single.reading).toBe("unresolved");
    // No spread and no measurement error (DPG, +2 at both seeds): said so, not read as certain.
    const dpg = [0, 1].flatMap((s) => [res("a", s, 0.5, 22), res("b", s, 0.5, 20)]);
    const [d] = checkClaims(dpg, [claim(["dpg"])])[0].metrics;
    expect(d.reading).toBe("constant");
    expect(formatClaimsMarkdown(checkClaims(dpg, [claim(["dpg"])]))).toContain(
      "same at every seed: no error to test",
    );
  });

  it("says when a comparison has one seed or none, and names the columns for a typo", () => {
    const one = [res("a", 0, 0.5, 22), res("b", 0, 0.5, 20), res("a", 1, 0.5, 22)];
    const [c] = checkClaims(one, [claim(["dpg"])]);
    expect(c.seeds).toEqual([0]);
    expect(c.metrics[0].reading).toBe("one seed");
    const none = checkClaims([res("a", 1, 0.5, 22), res("b", 0, 0.5, 20)], [claim(["dpg"])]);
    expect(none[0].metrics[0].reading).toBe("no data");
    expect(formatClaimsMarkdown(none)).toContain("| – | – | – | no shared seeds |");
    expect(() => checkClaims(one, [claim(["positon"])])).toThrow(
      /claim "A beats B": no column positon; columns are single, two, .*position/,
    );
  });
});
