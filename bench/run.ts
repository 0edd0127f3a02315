/**
 * `npm run bench`: reca's performance harness (a benchmark, never a test).
 *
 * In one run, every engine path against the PyTorch peer (bench/torch_peer.py, the same models):
 *   - the train step (forward + backward + clip + AdamW) of the reference transformer and the
 *     calibration U-Net (bench/models/), on
 *       jax-kernel: jax-js, one instance, wasm kernels split over the kernel worker threads,
 *       jax-data-parallel: jax-js replicas in worker threads, gradients summed in shared memory,
 *       ort (N threads): jax-js traces the step, ONNX Runtime runs it on N intra-op threads,
 *       ort-data-parallel: ORT replicas (one intra-op thread each) in worker threads;
 *   - the U-Net's sampling forward (the velocity call of one guided Euler step: 16 images,
 *     32 rows) on jax-js and on ORT;
 *   - square f32 matmul throughput on one thread and on all.
 * Every reca measurement runs in its own child process (bench/child.ts). The table goes to
 * stdout, progress to stderr; `--json FILE` writes everything, with
 * `ratios: { transformerStep, unetStep, unetForward }` = best reca path / PyTorch.
 */
import { writeFileSync } from "node:fs";
import {
  idleLoad,
  isFailure,
  machineInfo,
  measure,
  type Outcome,
  type PeerOutput,
  torchPeer,
} from "./child.ts";
import type { ForwardResult, Job, MatmulResult, ModelName, TrainResult } from "./measure.ts";
import {
  type MatmulReport,
  type PathResult,
  type PeerResult,
  pct,
  ratios,
  report,
  type Section,
  TARGETS,
} from "./report.ts";
import { benchArgs } from "./util.ts";

const HELP = `Usage: npx tsx bench/run.ts [options]   (npm run bench -- [options])

Times reca's engine paths (jax-js kernel threads, jax-js data parallelism, ONNX Runtime) against
the PyTorch peer: transformer and U-Net train steps, the U-Net sampling forward, matmul.

Options:
  --only LIST         comma-separated subset of transformer,unet,forward,matmul (default: all)
  --steps N           timed steps per measurement, after the first call and the warm-up (default 3)
  --warmup N          untimed steps after the first (compiling) call (default 1)
  --workers N         data-parallel replicas (default 2)
  --ort-threads LIST  ORT intra-op thread counts to measure (default: all cores, then 1)
  --no-jax            skip the jax-js paths (minutes of the run)
  --json FILE         also write every number and the machine info as JSON
  --no-torch          skip the PyTorch peer
  -h, --help          this text

Environment:
  RECA_TORCH_PYTHON  interpreter for bench/torch_peer.py (default /usr/bin/python3)
`;

const MODELS: ModelName[] = ["transformer", "unet"];
const MATMUL_SIZES = [256, 512, 1024];
const FORWARD_BATCH = 32;
const ALL = ["transformer", "unet", "forward", "matmul"];

const progress = (msg: string) => process.stderr.write(`${msg}\n`);

function parseOptions(cpus: number) {
  const values = benchArgs(
    {
      only: { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      workers: { type: "string" },
      "ort-threads": { type: "string" },
      "no-jax": { type: "boolean" },
      json: { type: "string" },
      "no-torch": { type: "boolean" },
    },
    HELP,
  );
  const int = (name: string, raw: string | undefined, dflt: number, min: number) => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  const only = new Set((values.only ?? ALL.join(",")).split(",").map((s) => s.trim()));
  for (const o of only)
    if (!ALL.includes(o)) throw new Error(`--only: unknown "${o}" (choose from ${ALL.join(",")})`);
  const ortThreads = (values["ort-threads"] ?? [...new Set([cpus, 1])].join(","))
    .split(",")
    .map((s) => int("ort-threads", s.trim(), 1, 1));
  return {
    only,
    steps: int("steps", values.steps, 3, 1),
    warmup: int("warmup", values.warmup, 1, 0),
    workers: int("workers", values.workers, 2, 1),
    ortThreads,
    jax: !values["no-jax"],
    json: values.json,
    torch: !values["no-torch"],
  };
}
type Options = ReturnType<typeof parseOptions>;

/** Every engine path of one model's train step. */
async function trainPaths(model: ModelName, o: Options): Promise<PathResult[]> {
  const job = {
    kind: "train",
    model,
    steps: o.steps,
    warmup: o.warmup,
    workers: o.workers,
  } as const;
  const paths: PathResult[] = [];
  for (const threads of o.ortThreads) {
    progress(`reca ${model}: ORT, ${threads} intra-op thread(s)`);
    const result = await measure<TrainResult>({ ...job, mode: "ort", threads });
    paths.push({ label: `ort (${threads} thr)`, result });
  }
  if (o.workers > 1) {
    progress(`reca ${model}: ORT data parallelism (${o.workers} workers, 1 thread each)`);
    const env = { ...process.env, RECA_THREADS: "1", RECA_ENGINE: "ort" };
    const result = await measure<TrainResult>({ ...job, mode: "data-parallel" }, env);
    paths.push({ label: `ort-data-parallel (${o.workers} workers)`, result });
  }
  if (o.jax) {
    progress(`reca ${model}: jax-js kernel threads`);
    const k = await measure<TrainResult>(
      { ...job, mode: "kernel" },
      { ...process.env, RECA_ENGINE: "jax" },
    );
    paths.push({ label: `jax-kernel (${isFailure(k) ? "?" : k.threads} thr)`, result: k });
    progress(`reca ${model}: jax-js data parallelism (${o.workers} workers)`);
    // The coordinating thread needs no kernel pool of its own.
    const env = { ...process.env, RECA_THREADS: "1", RECA_ENGINE: "jax" };
    const d = await measure<TrainResult>({ ...job, mode: "data-parallel" }, env);
    paths.push({ label: `jax-data-parallel (${o.workers} workers)`, result: d });
  }
  return paths;
}

async function forwardPaths(o: Options): Promise<PathResult[]> {
  const job = { kind: "forward", batch: FORWARD_BATCH, steps: o.steps, warmup: o.warmup } as const;
  const paths: PathResult[] = [];
  for (const threads of o.ortThreads) {
    progress(`reca unet forward: ORT, ${threads} intra-op thread(s)`);
    const result = await measure<ForwardResult>({ ...job, engine: "ort", threads });
    paths.push({ label: `ort (${threads} thr)`, result });
  }
  if (o.jax) {
    progress("reca unet forward: jax-js (jitted, kernel threads)");
    const result = await measure<ForwardResult>({ ...job, engine: "jax" });
    paths.push({ label: "jax-kernel", result });
  }
  return paths;
}

async function main() {
  const machine = machineInfo();
  let o: Options;
  try {
    o = parseOptions(machine.cpus);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  const idleBefore = await idleLoad();
  progress(
    `reca bench: ${[...o.only].join(", ")}; other processes use ${pct(idleBefore)} of the CPUs`,
  );
  const torchSteps = Math.max(5, o.steps);
  const torch = {
    version: null as string | null,
    threads: null as number | null,
    error: null as string | null,
    skipped: !o.torch,
  };
  const peer = async (only: string, threads = machine.cpus): Promise<Outcome<PeerOutput>> => {
    if (!o.torch) return { error: "skipped (--no-torch)" };
    progress(`PyTorch peer: ${only}, ${threads} thread(s)`);
    const r = await torchPeer(only, threads, torchSteps);
    if (isFailure(r)) torch.error ??= r.error;
    else [torch.version, torch.threads] = [r.json.torch, r.json.threads];
    return r;
  };
  const peerModel = (r: Outcome<PeerOutput>, key: string): Outcome<PeerResult> =>
    isFailure(r) ? r : { ...(r.json[key] as { ms: number; params: number }), ...r.stats };

  const sections: Section[] = [];
  for (const name of MODELS) {
    if (!o.only.has(name)) continue;
    const t = peerModel(await peer(name), name);
    const unet = name === "unet";
    sections.push({
      key: unet ? "unetStep" : "transformerStep",
      title: unet
        ? "U-Net train step (calibration U-Net 32-64-96, 1,246,115 params)"
        : "Transformer train step (d=256, 4 layers, 4 heads, seq 128, 3,323,392 params)",
      batch: unet ? "32 (16s)" : "16",
      rows: unet ? 32 : 16,
      paths: await trainPaths(name, o),
      torch: t,
    });
  }
  if (o.only.has("forward")) {
    const t = peerModel(await peer("unet_forward"), "unet_forward");
    sections.push({
      key: "unetForward",
      title: `U-Net sampling forward (velocity only, ${FORWARD_BATCH} rows = 16 guided images)`,
      batch: String(FORWARD_BATCH),
      rows: FORWARD_BATCH,
      paths: await forwardPaths(o),
      torch: t,
    });
  }

  let matmul: MatmulReport | null = null;
  if (o.only.has("matmul")) {
    matmul = {};
    const job: Job = { kind: "matmul", sizes: MATMUL_SIZES, minSeconds: 1 };
    progress("jax-js matmul: 1 thread");
    matmul.reca1 = await measure<MatmulResult>(job, { ...process.env, RECA_THREADS: "1" });
    progress(`jax-js matmul: all threads (${machine.cpus})`);
    const envAll = { ...process.env };
    delete envAll.RECA_THREADS;
    matmul.recaAll = await measure<MatmulResult>(job, envAll);
    for (const [key, threads] of [
      ["torch1", 1],
      ["torchAll", machine.cpus],
    ] as const) {
      const r = await peer("matmul", threads);
      if (o.torch)
        matmul[key] = isFailure(r) ? r : { threads: r.json.threads, gflops: r.json.matmul };
    }
  }
  if (torch.error) progress(`PyTorch peer unavailable: ${torch.error}. reca's numbers follow.`);

  const idle = { before: idleBefore, after: await idleLoad() };
  process.stdout.write(
    `\n${report({ machine, torch, idle, sections, matmul, matmulSizes: MATMUL_SIZES })}\n`,
  );
  if (o.json) {
    const doc = {
      machine,
      options: { ...o, only: [...o.only] },
      idleOtherLoad: idle,
      torch,
      sections,
      matmul,
      ratios: ratios(sections),
      targets: TARGETS,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    progress(`wrote ${o.json}`);
  }
}

await main();
