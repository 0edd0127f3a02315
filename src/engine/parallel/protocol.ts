/** Messages between the data-parallel runner and its workers. */
import type { OptimConfig } from "../optim.ts";
import type { HostState } from "../runner.ts";
import type { HostBatch, TaskSpec } from "../train-step.ts";

export type WorkerInit = {
  spec: TaskSpec;
  cfg: OptimConfig;
  seed: number;
  rank: number;
  world: number;
  microBatchSize: number;
};

export type Request =
  | { id: number; type: "attach"; shared: SharedArrayBuffer }
  | { id: number; type: "step"; shard: HostBatch; lr: number; step: number }
  | { id: number; type: "getState" }
  | { id: number; type: "setState"; state: HostState };

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };

/** Layout of the shared buffer: a control block, then one gradient slot per rank. */
export const CONTROL_INTS = 4; // [arrived, generation, aborted, spare]
export const ARRIVED = 0;
export const GENERATION = 1;
export const ABORTED = 2;

export function sharedBytes(world: number, nParams: number): number {
  return CONTROL_INTS * 4 + world * nParams * 4;
}

export function gradSlot(shared: SharedArrayBuffer, rank: number, nParams: number): Float32Array {
  return new Float32Array(shared, CONTROL_INTS * 4 + rank * nParams * 4, nParams);
}

/**
 * Generation-counting barrier over `world` threads. Throws if another rank
 * aborted (its error is reported by that rank), so no worker blocks forever.
 */
export function barrier(shared: SharedArrayBuffer, world: number): void {
  const ctl = new Int32Array(shared, 0, CONTROL_INTS);
  const gen = Atomics.load(ctl, GENERATION);
  if (Atomics.add(ctl, ARRIVED, 1) === world - 1) {
    Atomics.store(ctl, ARRIVED, 0);
    Atomics.add(ctl, GENERATION, 1);
    Atomics.notify(ctl, GENERATION);
    return;
  }
  while (Atomics.load(ctl, GENERATION) === gen) {
    if (Atomics.load(ctl, ABORTED)) throw new Error("another data-parallel worker failed");
    Atomics.wait(ctl, GENERATION, gen, 1000);
  }
}

export function abort(shared: SharedArrayBuffer): void {
  const ctl = new Int32Array(shared, 0, CONTROL_INTS);
  Atomics.store(ctl, ABORTED, 1);
  Atomics.notify(ctl, GENERATION);
}
