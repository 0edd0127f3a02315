/**
 * Data parallelism over worker_threads: N replicas, each with its own jax-js
 * instance (single-threaded kernels), each taking 1/N of every batch. Gradients
 * are averaged through one SharedArrayBuffer; there is no parameter broadcast.
 */
import { Worker } from "node:worker_threads";
import type { OptimConfig } from "../optim.ts";
import type { HostState, Runner, StepResult } from "../runner.ts";
import { batchSize, type HostBatch, splitBatch, type TaskSpec } from "../train-step.ts";
import { type Reply, type Request, sharedBytes, type WorkerInit } from "./protocol.ts";

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

class ReplicaHandle {
  #worker: Worker;
  #pending = new Map<number, Pending>();
  #nextId = 0;
  readonly ready: Promise<{ nParams: number }>;

  constructor(init: WorkerInit) {
    this.#worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
      workerData: init,
      // One kernel thread per replica: the replicas are the parallelism.
      env: { ...process.env, RECA_THREADS: "1" },
    });
    this.ready = new Promise((resolve, reject) =>
      this.#pending.set(-1, { resolve: resolve as (v: unknown) => void, reject }),
    );
    this.#worker.on("message", (r: Reply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(`data-parallel worker ${init.rank}: ${r.error}`));
    });
    const fail = (e: Error) => {
      for (const p of this.#pending.values()) p.reject(e);
      this.#pending.clear();
    };
    this.#worker.on("error", (e) =>
      fail(new Error(`data-parallel worker ${init.rank} crashed: ${e.stack ?? e}`)),
    );
    this.#worker.on("exit", (code) =>
      fail(new Error(`data-parallel worker ${init.rank} exited (${code})`)),
    );
  }

  call<T>(req: DistributiveOmit<Request, "id">, transfer: ArrayBuffer[] = []): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ ...req, id }, transfer);
    });
  }

  terminate(): Promise<number> {
    this.#worker.removeAllListeners("exit");
    return this.#worker.terminate();
  }
}

export class DataParallelRunner implements Runner {
  readonly kind = "data-parallel" as const;

  private constructor(
    readonly replicas: ReplicaHandle[],
    readonly threads: number,
  ) {}

  static async create(
    spec: TaskSpec,
    cfg: OptimConfig,
    seed: number,
    microBatchSize: number,
    world: number,
  ): Promise<DataParallelRunner> {
    if (!Number.isInteger(world) || world < 1)
      throw new Error(`data-parallel world size must be ≥ 1, got ${world}`);
    const replicas = Array.from(
      { length: world },
      (_, rank) => new ReplicaHandle({ spec, cfg, seed, rank, world, microBatchSize }),
    );
    try {
      const sizes = await Promise.all(replicas.map((r) => r.ready));
      const shared = new SharedArrayBuffer(sharedBytes(world, sizes[0].nParams));
      await Promise.all(replicas.map((r) => r.call({ type: "attach", shared })));
    } catch (e) {
      await Promise.all(replicas.map((r) => r.terminate()));
      throw e;
    }
    return new DataParallelRunner(replicas, world);
  }

  async step(hb: HostBatch, lr: number, step: number): Promise<StepResult> {
    const n = batchSize(hb);
    if (n % this.replicas.length !== 0) {
      throw new Error(
        `batch of ${n} does not split evenly over ${this.replicas.length} data-parallel workers`,
      );
    }
    const shards = splitBatch(hb, this.replicas.length);
    const results = await Promise.all(
      this.replicas.map((r, i) => r.call<StepResult>({ type: "step", shard: shards[i], lr, step })),
    );
    const loss = results.reduce((s, r) => s + r.loss, 0) / results.length;
    const out: StepResult = { loss, gradNorm: results[0].gradNorm };
    const first = results[0].parts;
    if (first)
      out.parts = Object.fromEntries(
        Object.keys(first).map((k) => [
          k,
          results.reduce((s, r) => s + (r.parts?.[k] ?? Number.NaN), 0) / results.length,
        ]),
      );
    return out;
  }

  getState(): Promise<HostState> {
    return this.replicas[0].call<HostState>({ type: "getState" });
  }

  async setState(state: HostState): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.call({ type: "setState", state })));
  }

  async dispose(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.terminate()));
  }
}
