/**
 * The bench's child processes: every reca measurement runs in its own process (bench/measure.ts;
 * thread counts are fixed when jax-js loads, wasm memory never shrinks, and each gets its own
 * peak RSS) and the PyTorch peer in a child Python. Each child is watched for its peak RSS and
 * for how much of the machine other processes used meanwhile.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { Job } from "./measure.ts";
import { cpuSnapshot, otherLoad } from "./util.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MEASURE = fileURLToPath(new URL("./measure.ts", import.meta.url));
const PEER = fileURLToPath(new URL("./torch_peer.py", import.meta.url));

export type Failure = { error: string };
export type Outcome<T> = T | Failure;
export const isFailure = (x: unknown): x is Failure =>
  typeof x === "object" && x !== null && "error" in x && typeof x.error === "string";

// --- child processes ---------------------------------------------------------

export type ChildOutput = {
  code: number | null;
  stdout: string;
  stderr: string;
  stats: ChildStats;
};

export type ChildStats = { peakRssBytes: number | null; otherLoad: number | null };

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

export async function measure<T>(
  job: Job,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Outcome<T>> {
  // The same interpreter and loader flags (tsx) as this process.
  const out = await run(process.execPath, [...process.execArgv, MEASURE, JSON.stringify(job)], env);
  const line = out.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (out.code === 0 && line) return JSON.parse(line.slice("RESULT ".length)) as T;
  return { error: errorLine(out.stderr) };
}

// --- PyTorch peer ----------------------------------------------------------

export const torchPython = () => process.env.RECA_TORCH_PYTHON || "/usr/bin/python3";

export type PeerOutput = { json: Record<string, any>; stats: ChildStats };

export async function torchPeer(
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

export function machineInfo() {
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
export async function idleLoad(ms = 1000): Promise<number | null> {
  const a = cpuSnapshot();
  await new Promise((r) => setTimeout(r, ms));
  return otherLoad(a, cpuSnapshot());
}
