/**
 * `npm run bench`: reca's performance harness (a benchmark, never a test).
 *
 * For the two reference models of bench/models/ (the peers of bench/torch_peer.py) it times
 * the full train step (forward + backward + clip + AdamW) in
 *   - reca-kernel: one jax-js instance, wasm kernels split over the kernel worker threads
 *     (LocalRunner, all cores),
 *   - reca-data-parallel: DataParallelRunner with `--workers` replicas,
 *   - PyTorch: bench/torch_peer.py in a child Python,
 * plus square f32 matmul throughput on one thread and on all threads. Every reca measurement
 * runs in its own child process (bench/measure.ts): thread counts are fixed when jax-js is
 * imported, wasm memory never shrinks, and each gets its own peak RSS.
 *
 * The table goes to stdout, progress to stderr; `--json FILE` writes everything.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { Job, MatmulResult, ModelName, TrainResult } from "./measure.ts";
import { benchArgs, cpuSnapshot, otherLoad } from "./util.ts";

const HELP = `Usage: npx tsx bench/run.ts [options]   (npm run bench -- [options])

Times reca's train step (kernel threads vs data parallelism) against the PyTorch peer.

Options:
  --only LIST       comma-separated subset of transformer,unet,matmul (default: all)
  --steps N         timed steps per measurement, after the first call and the warm-up (default 3)
  --warmup N        untimed steps after the first (compiling) call (default 1)
  --workers N       data-parallel replicas (default 2)
  --json FILE       also write every number and the machine info as JSON
  --no-torch        skip the PyTorch peer
  -h, --help        this text

Environment:
  RECA_TORCH_PYTHON  interpreter for bench/torch_peer.py (default /usr/bin/python3)
`;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MEASURE = fileURLToPath(new URL("./measure.ts", import.meta.url));
const PEER = fileURLToPath(new URL("./torch_peer.py", import.meta.url));
const MODELS: ModelName[] = ["transformer", "unet"];
const MATMUL_SIZES = [256, 512, 1024];

type Failure = { error: string };
type TorchModel = { ms: number; params: number } & ChildStats;
type TorchMatmul = { threads: number; gflops: Record<string, number> };
type Outcome<T> = T | Failure;

const isFailure = (x: unknown): x is Failure =>
  typeof x === "object" && x !== null && "error" in x && typeof x.error === "string";

const progress = (msg: string) => process.stderr.write(`${msg}\n`);

// --- options ---------------------------------------------------------------

function parseOptions() {
  const values = benchArgs(
    {
      only: { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      workers: { type: "string" },
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
  const all = ["transformer", "unet", "matmul"];
  const only = new Set((values.only ?? all.join(",")).split(",").map((s) => s.trim()));
  for (const o of only) {
    if (!all.includes(o)) throw new Error(`--only: unknown "${o}" (choose from ${all.join(",")})`);
  }
  return {
    only,
    steps: int("steps", values.steps, 3, 1),
    warmup: int("warmup", values.warmup, 1, 0),
    workers: int("workers", values.workers, 2, 1),
    json: values.json,
    torch: !values["no-torch"],
  };
}
type Options = ReturnType<typeof parseOptions>;

// --- child processes ---------------------------------------------------------

type ChildOutput = { code: number | null; stdout: string; stderr: string; stats: ChildStats };

type ChildStats = { peakRssBytes: number | null; otherLoad: number | null };

/** Machine-wide busy and total CPU ticks (Linux /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9);
  const n = f.map(Number);
  const total = n.reduce((x, y) => x + y, 0);
  return { busy: total - n[3] - n[4], total };
}

/**
 * Polls a running child's /proc entries (Linux; elsewhere both stats stay null): its peak RSS
 * (VmHWM) and the share of all CPUs that other processes used meanwhile (machine busy ticks
 * minus the child's own). Polled every 100 ms, so the child's last moments may be missed.
 */
function watchChild(child: ChildProcess): () => ChildStats {
  let peak: number | null = null;
  type Snap = { busy: number; total: number; own: number };
  let first: Snap | null = null;
  let last: Snap | null = null;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) peak = Math.max(peak ?? 0, Number(m[1]) * 1024);
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
      const own = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
      const snap = { ...machineTicks(), own };
      first ??= snap;
      last = snap;
    } catch {
      // not Linux, or the child has exited
    }
  };
  read();
  const timer = setInterval(read, 100);
  return () => {
    clearInterval(timer);
    let otherLoad: number | null = null;
    if (first && last && last.total > first.total) {
      const others = last.busy - first.busy - (last.own - first.own);
      otherLoad = Math.min(1, Math.max(0, others / (last.total - first.total)));
    }
    return { peakRssBytes: peak, otherLoad };
  };
}

/** Run a command; its stderr is echoed (indented) as progress. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return new Promise<ChildOutput>((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const stop = watchChild(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.on("error", (e) => {
      resolve({ code: null, stdout, stderr: `${stderr}${e.message}`, stats: stop() });
    });
    child.on("close", (code) => resolve({ code, stdout, stderr, stats: stop() }));
  });
}

/** The last meaningful line of a failed child's stderr (the error, not the stack). */
function errorLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("at ") && !/^Node\.js v/.test(l) && !/^[\^~]+$/.test(l));
  const err = lines.filter((l) => /Error|error:/.test(l));
  return (err.at(-1) ?? lines.at(-1) ?? "no output").slice(0, 300);
}

async function measure<T>(job: Job, env: NodeJS.ProcessEnv = process.env): Promise<Outcome<T>> {
  // The same interpreter and loader flags (tsx) as this process.
  const out = await run(process.execPath, [...process.execArgv, MEASURE, JSON.stringify(job)], env);
  const line = out.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (out.code === 0 && line) return JSON.parse(line.slice("RESULT ".length)) as T;
  return { error: errorLine(out.stderr) };
}

async function trainReca(model: ModelName, o: Options) {
  const job = {
    kind: "train",
    model,
    steps: o.steps,
    warmup: o.warmup,
    workers: o.workers,
  } as const;
  progress(`reca ${model}: kernel threads (LocalRunner)`);
  const kernel = await measure<TrainResult>({ ...job, mode: "kernel" });
  const kernelNote: string | null = isFailure(kernel)
    ? `LocalRunner failed (${kernel.error})`
    : null;
  progress(`reca ${model}: data parallelism (${o.workers} workers)`);
  // The coordinating thread needs no kernel pool of its own.
  const env = { ...process.env, RECA_THREADS: "1" };
  const dataParallel = await measure<TrainResult>({ ...job, mode: "data-parallel" }, env);
  return { kernel, kernelNote, dataParallel };
}

// --- PyTorch peer ----------------------------------------------------------

const torchPython = () => process.env.RECA_TORCH_PYTHON || "/usr/bin/python3";

type PeerOutput = { json: Record<string, any>; stats: ChildStats };

async function torchPeer(
  only: string,
  threads: number,
  steps: number,
): Promise<Outcome<PeerOutput>> {
  const args = [PEER, "--threads", String(threads), "--steps", String(steps), "--only", only];
  // torch.set_num_threads (the peer's --threads) does not reach OpenBLAS's own pthread pool,
  // which sizes itself from these variables when torch is imported.
  const n = String(threads);
  const env = { ...process.env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n };
  const out = await run(torchPython(), args, env);
  const last = out.stdout.trim().split("\n").at(-1) ?? "";
  if (out.code === 0 && last.startsWith("{")) {
    return { json: JSON.parse(last) as Record<string, any>, stats: out.stats };
  }
  if (/No module named 'torch'/.test(out.stderr)) {
    return { error: `PyTorch is not installed for ${torchPython()} (set RECA_TORCH_PYTHON)` };
  }
  if (/ENOENT/.test(out.stderr))
    return { error: `${torchPython()} not found (set RECA_TORCH_PYTHON)` };
  return { error: `torch_peer.py failed: ${errorLine(out.stderr)}` };
}

// --- machine info -------------------------------------------------------------

function machineInfo() {
  const git = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: "pipe" }).trim();
    } catch {
      return null;
    }
  };
  const commit = git(["rev-parse", "HEAD"]);
  const dirty = commit ? (git(["status", "--porcelain"]) ?? "") !== "" : null;
  let jaxVersion: string | null = null;
  try {
    const pkg = readFileSync(`${ROOT}node_modules/@jax-js/jax/package.json`, "utf8");
    jaxVersion = (JSON.parse(pkg) as { version: string }).version;
  } catch {
    // not installed where expected
  }
  return {
    date: new Date().toISOString(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    jaxJs: jaxVersion,
    gitCommit: commit,
    gitDirty: dirty,
    loadAverage: os.loadavg(),
  };
}

/** Share of the machine other processes use while we sit idle for `ms`. */
async function idleLoad(ms = 1000): Promise<number | null> {
  const a = cpuSnapshot();
  await new Promise((r) => setTimeout(r, ms));
  return otherLoad(a, cpuSnapshot());
}

// --- formatting -----------------------------------------------------------

const int = (x: number) => Math.round(x).toLocaleString("en-US");
const fix = (x: number, d = 1) => x.toFixed(d);
const gb = (b: number | null | undefined) => (b ? `${(b / 2 ** 30).toFixed(2)} GB` : "–");
const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ")
      .trimEnd();
  const sep = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join("\n");
}

type ModelReport = {
  kernel: Outcome<TrainResult>;
  kernelNote: string | null;
  dataParallel: Outcome<TrainResult>;
  torch: Outcome<TorchModel>;
};

function report(
  machine: ReturnType<typeof machineInfo>,
  o: Options,
  models: Partial<Record<ModelName, ModelReport>>,
  matmul: {
    reca1?: Outcome<MatmulResult>;
    recaAll?: Outcome<MatmulResult>;
    torch1?: Outcome<TorchMatmul>;
    torchAll?: Outcome<TorchMatmul>;
  },
  torchInfo: { version: string | null; threads: number | null; error: string | null },
  idle: { before: number | null; after: number | null },
): string {
  const out: string[] = [];
  const commit = machine.gitCommit
    ? `${machine.gitCommit.slice(0, 10)}${machine.gitDirty ? " (dirty)" : ""}`
    : "unknown";
  out.push(
    `reca bench  ${machine.date}`,
    `machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${gb(machine.memoryBytes)}, ${machine.platform}`,
    `node ${machine.node}, @jax-js/jax ${machine.jaxJs ?? "?"}, commit ${commit}`,
    `PyTorch: ${
      !o.torch
        ? "skipped (--no-torch)"
        : (torchInfo.error ??
          `${torchInfo.version} (${torchInfo.threads} threads, ${torchPython()})`)
    }`,
    `other processes' CPU use while idle: ${pct(idle.before)} before, ${pct(idle.after)} after` +
      ((idle.before ?? 0) > 0.1 || (idle.after ?? 0) > 0.1
        ? "  ⚠ busy machine: timings are inflated"
        : ""),
    "",
  );

  const names = Object.keys(models) as ModelName[];
  const notes: string[] = [];
  if (names.length > 0) {
    out.push(
      `Train step (forward + backward + clip + AdamW): median of ${o.steps} timed step(s) after the first call and ${o.warmup} warm-up step(s)`,
      "",
    );
    const rows = [
      [
        "model / mode",
        "batch",
        "ms/step",
        "samples/s",
        "first call",
        "setup",
        "peak RSS",
        "other load",
      ],
    ];
    for (const name of names) {
      const m = models[name]!;
      const entry = (label: string, r: Outcome<TrainResult>) => {
        if (isFailure(r)) {
          rows.push([`  ${label}`, "", "failed"]);
          notes.push(`${name} ${label}: ${r.error}`);
        } else
          rows.push([
            `  ${label}`,
            r.microBatch ? `${r.batch} (${r.microBatch}s)` : String(r.batch),
            int(r.medianMs),
            fix(r.samplesPerSec),
            `${fix(r.firstCallMs / 1000)} s`,
            `${fix(r.setupMs / 1000)} s`,
            gb(r.peakRssBytes),
            pct(r.otherLoad),
          ]);
      };
      rows.push([name]);
      entry(
        `reca-kernel (${isFailure(m.kernel) ? "?" : m.kernel.threads} threads)${m.kernelNote ? " *" : ""}`,
        m.kernel,
      );
      entry(`reca-data-parallel (${o.workers} workers)`, m.dataParallel);
      if (isFailure(m.torch)) {
        rows.push(["  PyTorch", "", "–"]);
        notes.push(`${name} PyTorch: ${m.torch.error}`);
      } else {
        const ran = [m.kernel, m.dataParallel].find((r) => !isFailure(r)) as
          | TrainResult
          | undefined;
        const b = ran?.batch ?? (name === "transformer" ? 16 : 32);
        rows.push([
          "  PyTorch",
          String(b),
          int(m.torch.ms),
          fix((b * 1000) / m.torch.ms),
          "",
          "",
          gb(m.torch.peakRssBytes),
          pct(m.torch.otherLoad),
        ]);
      }
    }
    out.push(
      table(rows),
      ...notes,
      ...(names.includes("unet")
        ? [
            "batch 32 (16s): micro-batches of 16 (kernel: 2 per step; data-parallel: one per worker).",
          ]
        : []),
      "first call: trace + compile + one step. other load: share of all CPUs that other processes",
      "used during the timed steps (PyTorch: during its whole run); above ~10% it inflates timings.",
      "",
    );
    const loads = names.flatMap((n) =>
      [models[n]!.kernel, models[n]!.dataParallel, models[n]!.torch].map((r) =>
        isFailure(r) ? 0 : (r.otherLoad ?? 0),
      ),
    );
    if (Math.max(...loads) > 0.1) {
      out.push(
        `⚠ other processes used up to ${pct(Math.max(...loads))} of the CPUs during these measurements:`,
        "  the ratios below are unreliable; rerun on a quiet machine.",
        "",
      );
    }

    const sum = [
      [
        "model",
        "params reca / torch",
        "reca-kernel",
        "reca-dp",
        "PyTorch",
        "best reca / PyTorch",
        "faster reca mode",
      ],
    ];
    for (const name of names) {
      const m = models[name]!;
      const k = isFailure(m.kernel) ? null : m.kernel;
      const d = isFailure(m.dataParallel) ? null : m.dataParallel;
      const t = isFailure(m.torch) ? null : m.torch;
      const recaParams = k?.params.actual ?? k?.params.formula ?? d?.params.formula ?? null;
      const params =
        `${recaParams === null ? "?" : int(recaParams)} / ${t ? int(t.params) : "?"}` +
        (recaParams !== null && t && recaParams !== t.params ? " MISMATCH" : "");
      const best = [k, d]
        .filter((x): x is TrainResult => x !== null)
        .sort((a, b) => a.medianMs - b.medianMs);
      let faster = "–";
      if (k && d) {
        const [fast, slow] = k.medianMs <= d.medianMs ? [k, d] : [d, k];
        const label = fast === k ? "kernel" : "data-parallel";
        faster = `${label} (${fix(slow.medianMs / fast.medianMs, 2)}x)`;
      } else if (best.length === 1)
        faster = best[0] === k ? "kernel (only one ran)" : "data-parallel (only one ran)";
      sum.push([
        name,
        params,
        k ? int(k.medianMs) + (m.kernelNote ? "*" : "") : "failed",
        d ? int(d.medianMs) : "failed",
        t ? int(t.ms) : "–",
        best.length && t ? `${fix(best[0].medianMs / t.ms, 1)}x` : "–",
        faster,
      ]);
    }
    out.push("ms/step summary", "", table(sum), "");
    for (const name of names) {
      const note = models[name]!.kernelNote;
      if (note) out.push(`* ${name}: ${note}`);
    }
    for (const name of names) {
      for (const r of [models[name]!.kernel, models[name]!.dataParallel]) {
        if (!isFailure(r) && r.params.actual !== null && r.params.actual !== r.params.formula)
          out.push(
            `! ${name}: ${r.params.actual} parameters but the closed form says ${r.params.formula}`,
          );
      }
    }
    if (names.some((n) => models[n]!.kernelNote)) out.push("");
  }

  if (o.only.has("matmul")) {
    const col = (r: Outcome<MatmulResult | TorchMatmul> | undefined, n: number) =>
      r === undefined ? "–" : isFailure(r) ? "failed" : fix(r.gflops[n]);
    const head = (r: Outcome<MatmulResult | TorchMatmul> | undefined, who: string, dflt: string) =>
      `${who} ${r && !isFailure(r) ? r.threads : dflt} thr`;
    const rows = [
      [
        "n",
        head(matmul.reca1, "reca", "1"),
        head(matmul.recaAll, "reca", String(machine.cpus)),
        head(matmul.torch1, "PyTorch", "1"),
        head(matmul.torchAll, "PyTorch", String(machine.cpus)),
      ],
    ];
    for (const n of MATMUL_SIZES) {
      rows.push([
        String(n),
        col(matmul.reca1, n),
        col(matmul.recaAll, n),
        col(matmul.torch1, n),
        col(matmul.torchAll, n),
      ]);
    }
    out.push(
      "Square f32 matmul, GFLOP/s (jitted in reca, timed to completion)",
      "",
      table(rows),
      `other load: reca ${[matmul.reca1, matmul.recaAll].map((r) => (r && !isFailure(r) ? pct(r.otherLoad) : "–")).join(" / ")}`,
      "",
    );
    for (const [k, r] of Object.entries(matmul))
      if (isFailure(r)) out.push(`matmul ${k}: ${r.error}`);
  }
  return out.join("\n");
}

// --- main -------------------------------------------------------------------

async function main() {
  let o: Options;
  try {
    o = parseOptions();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  const machine = machineInfo();
  const idleBefore = await idleLoad();
  progress(
    `reca bench: ${[...o.only].join(", ")}; ${o.steps} timed step(s) after ${o.warmup} warm-up; ` +
      `other processes use ${pct(idleBefore)} of the CPUs`,
  );

  const cpus = machine.cpus;
  const torchSteps = Math.max(5, o.steps);
  const torchInfo = {
    version: null as string | null,
    threads: null as number | null,
    error: null as string | null,
  };
  const noteTorch = (r: Outcome<PeerOutput>) => {
    if (isFailure(r)) torchInfo.error ??= r.error;
    else {
      torchInfo.version = r.json.torch;
      torchInfo.threads = r.json.threads;
    }
  };

  const models: Partial<Record<ModelName, ModelReport>> = {};
  for (const name of MODELS) {
    if (!o.only.has(name)) continue;
    let torch: Outcome<TorchModel> = { error: "skipped (--no-torch)" };
    if (o.torch) {
      progress(`PyTorch peer: ${name}`);
      const r = await torchPeer(name, cpus, torchSteps);
      noteTorch(r);
      torch = isFailure(r)
        ? { error: r.error }
        : { ...(r.json[name] as { ms: number; params: number }), ...r.stats };
    }
    models[name] = { ...(await trainReca(name, o)), torch };
  }

  const matmul: Parameters<typeof report>[3] = {};
  if (o.only.has("matmul")) {
    const job: Job = { kind: "matmul", sizes: MATMUL_SIZES, minSeconds: 1 };
    progress("reca matmul: 1 thread");
    matmul.reca1 = await measure<MatmulResult>(job, { ...process.env, RECA_THREADS: "1" });
    progress(`reca matmul: all threads (${cpus})`);
    const envAll = { ...process.env };
    delete envAll.RECA_THREADS;
    matmul.recaAll = await measure<MatmulResult>(job, envAll);
    if (o.torch) {
      for (const [key, threads] of [
        ["torch1", 1],
        ["torchAll", cpus],
      ] as const) {
        progress(`PyTorch peer: matmul, ${threads} thread(s)`);
        const r = await torchPeer("matmul", threads, torchSteps);
        noteTorch(r);
        matmul[key] = isFailure(r) ? r : { threads: r.json.threads, gflops: r.json.matmul };
      }
    }
  }
  if (torchInfo.error)
    progress(`PyTorch peer unavailable: ${torchInfo.error}. reca's numbers follow.`);

  const idle = { before: idleBefore, after: await idleLoad() };
  const text = report(machine, o, models, matmul, torchInfo, idle);
  process.stdout.write(`\n${text}\n`);
  if (o.json) {
    const doc = {
      machine,
      options: { ...o, only: [...o.only] },
      idleOtherLoad: idle,
      torch: torchInfo,
      models,
      matmul,
    };
    writeFileSync(o.json, `${JSON.stringify(doc, null, 2)}\n`);
    progress(`wrote ${o.json}`);
  }
}

await main();
