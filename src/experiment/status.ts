/**
 * Where an experiment stands, read from its folder without touching it: for every (row, seed)
 * job of the plan, whether it is done under the plan's protocol, done under another protocol
 * (a rerun re-evaluates it), being run by a live process, part-trained (each stage's checkpoint
 * step), or not started. `reca experiment status` prints it; nothing here takes a lock.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { lockHolder } from "../util/fsutil.ts";
import type { ExperimentPlan, ExperimentRow } from "./plan.ts";
import {
  checkpointedStep,
  estimateJobSeconds,
  jobDir,
  readJobResult,
  readResults,
  sameProtocol,
  stageChain,
} from "./run.ts";

export type StageStatus = {
  name: string;
  dir: string;
  /** Checkpointed steps (0: nothing on disk yet). */
  step: number;
  steps: number;
  /** Pid of the live process training it, if any. */
  trainingBy: number | null;
};

/**
 * done: result under the plan's protocol; other-protocol: a result under another one; running: a
 * live process holds the job; waiting: a stage it shares with another job is being trained;
 * partial: the job started (its folder exists) and stopped with checkpointed stage steps;
 * pending: the job never started — its stages may already be trained by another job that shares
 * them (sft-reca's SFT stage is the sft row's).
 */
export type JobState = "done" | "other-protocol" | "running" | "waiting" | "partial" | "pending";

export type JobStatus = {
  row: string;
  seed: number;
  state: JobState;
  /** Pid of the live process holding the job (state "running"). */
  runningBy: number | null;
  stages: StageStatus[];
  /** GenEval overall of a finished result (either protocol). */
  geneval?: number;
  finishedAt?: string;
  /**
   * A job still to run (not done, not running): its expected seconds by estimateJobSeconds over
   * the folder's finished jobs; null when there is nothing to go by yet.
   */
  estimateSeconds?: number | null;
};

export type StatusOptions = {
  plan: ExperimentPlan;
  from: string;
  out: string;
  rows: readonly ExperimentRow[];
  seeds: readonly number[];
  steps?: number;
};

/** Every job of the plan, seed-major as `reca experiment run` takes them. */
export function experimentStatus(o: StatusOptions): JobStatus[] {
  const jobs: JobStatus[] = [];
  const finished = readResults(o.out);
  for (const seed of o.seeds)
    for (const row of o.rows) {
      const dir = jobDir(o.out, row.name, seed);
      const result = readJobResult(join(dir, "result.json"));
      const runningBy = lockHolder(join(dir, ".lock"));
      const stages = stageChain(o, row, seed).map(({ cfg, name, dir: stageDir }) => ({
        name,
        dir: stageDir,
        step: checkpointedStep(stageDir),
        steps: cfg.train.steps,
        trainingBy: lockHolder(`${stageDir}.lock`),
      }));
      let state: JobState;
      if (result && sameProtocol(result.protocol, o.plan.eval)) state = "done";
      else if (runningBy !== null) state = "running";
      else if (result) state = "other-protocol";
      else if (stages.some((s) => s.trainingBy !== null)) state = "waiting";
      else if (existsSync(dir) && stages.some((s) => s.step > 0)) state = "partial";
      else state = "pending";
      jobs.push({
        row: row.name,
        seed,
        state,
        runningBy: state === "done" ? null : runningBy,
        stages,
        ...(result && {
          geneval: result.eval.geneval?.overall,
          finishedAt: result.finishedAt,
        }),
        ...(state !== "done" &&
          state !== "running" && {
            estimateSeconds: estimateJobSeconds(
              finished,
              o.plan.eval,
              stages.map((st) => ({ name: st.name, steps: st.steps, done: st.step })),
            ),
          }),
      });
    }
  return jobs;
}

function describe(j: JobStatus): string {
  const stages = j.stages
    .map(
      (s) =>
        `${s.name} ${s.step}/${s.steps}` +
        (s.trainingBy !== null ? ` (training, pid ${s.trainingBy})` : ""),
    )
    .join(", ");
  switch (j.state) {
    case "done":
      return (
        (j.geneval !== undefined ? `GenEval ${j.geneval.toFixed(3)}, ` : "") +
        `finished ${j.finishedAt ?? "?"}`
      );
    case "other-protocol":
      return `finished under another protocol; a rerun re-evaluates it${stages ? ` (${stages})` : ""}`;
    case "running":
      return `pid ${j.runningBy}${stages ? `: ${stages}` : ""}${
        j.stages.every((s) => s.step >= s.steps) ? ", evaluating" : ""
      }`;
    case "waiting":
      return `a shared stage is being trained: ${stages}`;
    case "partial":
      return `stopped: ${stages}; \`reca experiment run\` resumes it`;
    case "pending":
      return j.stages.length ? `not started (${stages})` : "not started";
  }
}

/** The status as a Markdown table and a one-line count. */
export function formatStatus(jobs: readonly JobStatus[]): string {
  const lines = ["| row | seed | state | detail |", "| --- | ---: | --- | --- |"];
  for (const j of jobs) lines.push(`| ${j.row} | ${j.seed} | ${j.state} | ${describe(j)} |`);
  const count = (s: JobState) => jobs.filter((j) => j.state === s).length;
  const parts = (["running", "waiting", "partial", "other-protocol", "pending"] as const)
    .filter((s) => count(s) > 0)
    .map((s) => `${count(s)} ${s}`);
  lines.push(
    "",
    `${count("done")} of ${jobs.length} jobs done${parts.length ? `; ${parts.join(", ")}` : ""}`,
  );
  const toRun = jobs.filter((j) => j.estimateSeconds !== undefined);
  const known = toRun.filter((j) => typeof j.estimateSeconds === "number");
  if (known.length > 0) {
    const hours = known.reduce((a, j) => a + (j.estimateSeconds ?? 0), 0) / 3600;
    const unknown = toRun.length - known.length;
    lines.push(
      `the ${known.length} job${known.length > 1 ? "s" : ""} still to run would take about ` +
        `${hours.toFixed(1)} h of one process, judged by the finished jobs` +
        (unknown > 0 ? ` (${unknown} more with nothing to go by)` : ""),
    );
  }
  return lines.join("\n");
}
