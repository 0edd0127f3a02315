/**
 * One measurement of `npm run bench`, run in its own process by bench/run.ts so that each
 * gets a fresh jax-js instance (kernel thread count is fixed at import), its own wasm memory
 * (which never shrinks) and its own peak RSS. Usage:
 *
 *   tsx bench/measure.ts '<json job>'
 *
 * Progress goes to stderr; the result is one stdout line `RESULT <json>`.
 */
import { performance } from "node:perf_hooks";
import {
  blockUntilReady,
  initEngine,
  type JaxArray,
  jit,
  numpy as np,
  random,
  tree,
} from "../src/engine/jax.ts";
import { kernelThreads } from "../src/engine/node-setup.ts";
import { OrtFunction } from "../src/engine/onnx/program.ts";
import { type OrtTensor, treeToOrt } from "../src/engine/onnx/tensors.ts";
import { optimConfig } from "../src/engine/optim.ts";
import { DataParallelRunner } from "../src/engine/parallel/dp-runner.ts";
import { LocalRunner, type Runner } from "../src/engine/runner.ts";
import type { HostBatch, Task, TaskSpec } from "../src/engine/train-step.ts";
import { countParams } from "../src/engine/tree.ts";
import {
  TRANSFORMER_BENCH,
  TRANSFORMER_BENCH_BATCH,
  transformerBatch,
  transformerParamCount,
  transformerTask,
} from "./models/transformer.ts";
import {
  initUNet,
  UNET_BENCH,
  UNET_BENCH_BATCH,
  UNET_BENCH_MICRO_BATCH,
  unetBatch,
  unetForward,
  unetParamCount,
  unetTask,
} from "./models/unet.ts";
import { cpuSnapshot, median, otherLoad } from "./util.ts";

export type ModelName = "transformer" | "unet";
/**
 * jax-kernel: LocalRunner on jax-js (kernel worker threads); data-parallel: jax-js replicas in
 * worker threads; ort: LocalRunner on ONNX Runtime with `threads` intra-op threads.
 */
export type Mode = "kernel" | "data-parallel" | "ort";

export type TrainJob = {
  kind: "train";
  model: ModelName;
  mode: Mode;
  /** Timed steps after the first (compiling) call and `warmup` further untimed steps. */
  steps: number;
  warmup: number;
  /** Data-parallel replicas. */
  workers: number;
  /** ORT intra-op threads (mode "ort"). */
  threads?: number;
};
export type MatmulJob = { kind: "matmul"; sizes: number[]; minSeconds: number };
/** The bench U-Net's forward (the sampler's velocity call) at `batch` rows. */
export type ForwardJob = {
  kind: "forward";
  engine: "jax" | "ort";
  batch: number;
  steps: number;
  warmup: number;
  threads?: number;
};
export type Job = TrainJob | MatmulJob | ForwardJob;

export type ForwardResult = {
  engine: "jax" | "ort";
  batch: number;
  threads: number;
  firstCallMs: number;
  stepsMs: number[];
  medianMs: number;
  peakRssBytes: number;
  otherLoad: number | null;
};

export type TrainResult = {
  model: ModelName;
  mode: Mode;
  /** The runner class measured. */
  runner: string;
  batch: number;
  /** Largest slice run in one jitted pass (0 = whole batch / whole shard). */
  microBatch: number;
  threads: number;
  params: { actual: number | null; formula: number };
  setupMs: number;
  firstCallMs: number;
  stepsMs: number[];
  medianMs: number;
  samplesPerSec: number;
  lossFirst: number;
  lossLast: number;
  peakRssBytes: number;
  /** Share of the machine's CPU time used by other processes during the timed steps. */
  otherLoad: number | null;
};
export type MatmulResult = {
  threads: number;
  gflops: Record<string, number>;
  peakRssBytes: number;
  otherLoad: number | null;
};

/** The bench models: shapes, batch and micro-batching exactly as the peer's runs. */
export const MODELS = {
  transformer: {
    factory: "transformerTask",
    config: TRANSFORMER_BENCH,
    batch: TRANSFORMER_BENCH_BATCH,
    microBatch: 0,
    task: () => transformerTask(TRANSFORMER_BENCH),
    hostBatch: () => transformerBatch(TRANSFORMER_BENCH, TRANSFORMER_BENCH_BATCH),
    formula: () => transformerParamCount(TRANSFORMER_BENCH),
  },
  unet: {
    factory: "unetTask",
    config: UNET_BENCH,
    batch: UNET_BENCH_BATCH,
    microBatch: UNET_BENCH_MICRO_BATCH,
    task: () => unetTask(UNET_BENCH),
    hostBatch: () => unetBatch(UNET_BENCH, UNET_BENCH_BATCH),
    formula: () => unetParamCount(UNET_BENCH),
  },
} satisfies Record<
  ModelName,
  {
    factory: string;
    config: unknown;
    batch: number;
    microBatch: number;
    task: () => Task;
    hostBatch: () => HostBatch;
    formula: () => number;
  }
>;

/** The peer's optimizer: AdamW lr 3e-4 (constant), weight decay 0.01, clip 1.0. */
const OPTIM = optimConfig({
  lr: 3e-4,
  totalSteps: 1_000_000,
  minLrRatio: 1,
  weightDecay: 0.01,
  clipNorm: 1.0,
});
const SEED = 0;

const log = (msg: string) => process.stderr.write(`  ${msg}\n`);
const peakRss = () => process.resourceUsage().maxRSS * 1024;

async function train(job: TrainJob): Promise<TrainResult> {
  const m = MODELS[job.model];
  const hb = m.hostBatch();
  const label = `${job.model}/${job.mode}`;
  let actual: number | null = null;
  let runner: Pick<Runner, "step" | "dispose">;
  let runnerName: string;
  let threads: number;
  const t0 = performance.now();
  if (job.mode === "kernel" || job.mode === "ort") {
    await initEngine();
    const task = m.task();
    const p = task.init(SEED);
    actual = countParams(p);
    tree.dispose(p);
    const engine = job.mode === "ort" ? "ort" : "jax";
    threads = job.mode === "ort" ? (job.threads ?? kernelThreads) : kernelThreads;
    runner = new LocalRunner(task, OPTIM, SEED, m.microBatch, threads, { engine });
    runnerName = `LocalRunner (${engine})`;
  } else {
    const spec: TaskSpec = {
      module: new URL(`./models/${job.model}.ts`, import.meta.url).href,
      exportName: m.factory,
      config: m.config,
    };
    threads = job.workers;
    // Per replica: its shard, cut into micro-batches of at most m.microBatch.
    runner = await DataParallelRunner.create(spec, OPTIM, SEED, m.microBatch, job.workers);
    runnerName = "DataParallelRunner";
  }
  const setupMs = performance.now() - t0;
  log(`${label}: set up in ${(setupMs / 1000).toFixed(1)} s, first call (trace + compile)…`);
  try {
    let step = 1;
    const timed = async () => {
      const s = performance.now();
      const r = await runner.step(hb, OPTIM.lr, step++);
      if (!Number.isFinite(r.loss)) throw new Error(`${label}: loss ${r.loss} at step ${step - 1}`);
      return { ms: performance.now() - s, loss: r.loss };
    };
    const first = await timed();
    log(`${label}: first call ${(first.ms / 1000).toFixed(1)} s, loss ${first.loss.toFixed(4)}`);
    for (let i = 0; i < job.warmup; i++) {
      const w = await timed();
      log(`${label}: warm-up ${(w.ms / 1000).toFixed(2)} s`);
    }
    const stepsMs: number[] = [];
    let lossLast = first.loss;
    const cpu0 = cpuSnapshot();
    for (let i = 0; i < job.steps; i++) {
      const r = await timed();
      stepsMs.push(r.ms);
      lossLast = r.loss;
      log(`${label}: step ${i + 1}/${job.steps} ${(r.ms / 1000).toFixed(2)} s`);
    }
    const load = otherLoad(cpu0, cpuSnapshot());
    const med = median(stepsMs);
    return {
      model: job.model,
      mode: job.mode,
      runner: runnerName,
      batch: m.batch,
      microBatch: m.microBatch,
      threads,
      params: { actual, formula: m.formula() },
      setupMs,
      firstCallMs: first.ms,
      stepsMs,
      medianMs: med,
      samplesPerSec: (m.batch * 1000) / med,
      lossFirst: first.loss,
      lossLast,
      peakRssBytes: peakRss(),
      otherLoad: load,
    };
  } finally {
    await runner.dispose();
  }
}

/** Square f32 matmul, jitted, timed to completion (`await data()`), median of repetitions. */
async function matmul(job: MatmulJob): Promise<MatmulResult> {
  await initEngine();
  const f = jit((a: any, b: any) => np.matmul(a, b));
  const gflops: Record<string, number> = {};
  const cpu0 = cpuSnapshot();
  for (const n of job.sizes) {
    const [ka, kb] = random.split(random.key(n), 2);
    const a = random.normal(ka, [n, n]);
    const b = random.normal(kb, [n, n]);
    for (let i = 0; i < 2; i++) await f(a.ref, b.ref).data();
    const times: number[] = [];
    const start = performance.now();
    while (times.length < 3 || performance.now() - start < job.minSeconds * 1000) {
      const s = performance.now();
      await f(a.ref, b.ref).data();
      times.push(performance.now() - s);
    }
    a.dispose();
    b.dispose();
    gflops[n] = (2 * n ** 3) / (median(times) * 1e6);
    log(`matmul ${n} (${kernelThreads} thread(s)): ${gflops[n].toFixed(1)} GFLOP/s`);
  }
  f.dispose();
  const load = otherLoad(cpu0, cpuSnapshot());
  return { threads: kernelThreads, gflops, peakRssBytes: peakRss(), otherLoad: load };
}

/** The bench U-Net's forward, timed to completion, on jax-js (jitted) or ORT. */
async function forward(job: ForwardJob): Promise<ForwardResult> {
  await initEngine();
  const c = UNET_BENCH;
  const hb = unetBatch(c, job.batch);
  const f = (p: any, x: JaxArray, t: JaxArray, ctx: JaxArray) => unetForward(c, p, x, t, ctx);
  const params = initUNet(c, SEED);
  const threads = job.engine === "ort" ? (job.threads ?? kernelThreads) : kernelThreads;
  let call: () => Promise<void>;
  let done: () => Promise<void>;
  if (job.engine === "ort") {
    const prog = new OrtFunction(f, { name: "unet forward", threads });
    const p = await treeToOrt(params as never);
    call = async () => {
      const y = (await prog.run(p, hb.x, hb.t, hb.ctx)) as OrtTensor;
      if (y.dims.length !== 4) throw new Error("forward: bad output");
    };
    done = () => prog.dispose();
  } else {
    const fj = jit(f);
    const dev = (a: { data: Float32Array | Int32Array; shape: number[] }) =>
      np.array(a.data as Float32Array).reshape(a.shape);
    call = async () => {
      await blockUntilReady(fj(tree.ref(params), dev(hb.x), dev(hb.t), dev(hb.ctx)));
    };
    done = async () => {
      fj.dispose();
      tree.dispose(params);
    };
  }
  const time = async () => {
    const s = performance.now();
    await call();
    return performance.now() - s;
  };
  const firstCallMs = await time();
  log(`unet forward/${job.engine}: first call ${(firstCallMs / 1000).toFixed(1)} s`);
  for (let i = 0; i < job.warmup; i++) await time();
  const cpu0 = cpuSnapshot();
  const stepsMs: number[] = [];
  for (let i = 0; i < job.steps; i++) stepsMs.push(await time());
  const load = otherLoad(cpu0, cpuSnapshot());
  await done();
  log(`unet forward/${job.engine}: median ${median(stepsMs).toFixed(0)} ms`);
  return {
    engine: job.engine,
    batch: job.batch,
    threads,
    firstCallMs,
    stepsMs,
    medianMs: median(stepsMs),
    peakRssBytes: peakRss(),
    otherLoad: load,
  };
}

const job = JSON.parse(process.argv[2] ?? "null") as Job | null;
if (job === null) {
  process.stderr.write("usage: tsx bench/measure.ts '<json job>' (run by bench/run.ts)\n");
  process.exit(2);
}
const result =
  job.kind === "train"
    ? await train(job)
    : job.kind === "forward"
      ? await forward(job)
      : await matmul(job);
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
