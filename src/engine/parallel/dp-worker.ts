/**
 * One data-parallel replica. It holds its own jax-js instance and a full copy
 * of the training state, computes gradients on its shard of each batch, writes
 * them to its slot of shared memory, waits at a barrier, sums all slots in rank
 * order (identical on every replica, so replicas stay bit-identical) and applies
 * the same AdamW update.
 */
import { parentPort, workerData } from "node:worker_threads";
import { initEngine, type JaxArray, tree } from "../jax.ts";
import { freshState, microBatchCount, readParts, stateFromHost, stateToHost } from "../runner.ts";
import { batchSize, splitBatch, type TrainState, TrainStep } from "../train-step.ts";
import { fromHost, type HostTensor, namedLeaves, type ParamTree } from "../tree.ts";
import { loadTask } from "./index.ts";
import { abort, barrier, gradSlot, type Reply, type Request, type WorkerInit } from "./protocol.ts";

const init = workerData as WorkerInit;
const port = parentPort!;

await initEngine();
const task = await loadTask(init.spec);
const trainStep = new TrainStep(task, init.cfg);
let state: TrainState = freshState(task, init.cfg, init.seed);
const layout = namedLeaves(state.params).map(([name, a]) => ({
  name,
  shape: [...a.shape],
  size: a.shape.reduce((p, d) => p * d, 1),
}));
const nParams = layout.reduce((n, l) => n + l.size, 0);
let shared: SharedArrayBuffer | null = null;

async function step(msg: Extract<Request, { type: "step" }>) {
  if (!shared) throw new Error("step before attach");
  const k = microBatchCount(batchSize(msg.shard), init.microBatchSize);
  const { lossSum, grads, partsSum } = await trainStep.grads(
    state.params,
    splitBatch(msg.shard, k),
  );
  const mine = gradSlot(shared, init.rank, nParams);
  let off = 0;
  for (const [, g] of namedLeaves(grads)) {
    const d = (await (g as JaxArray).data()) as Float32Array;
    mine.set(d, off);
    off += d.length;
  }
  barrier(shared, init.world);
  const total = new Float32Array(nParams);
  for (let r = 0; r < init.world; r++) {
    const slot = gradSlot(shared, r, nParams);
    for (let i = 0; i < nParams; i++) total[i] += slot[i];
  }
  const host = new Map<string, HostTensor>();
  off = 0;
  for (const l of layout) {
    host.set(l.name, { shape: l.shape, data: total.subarray(off, off + l.size) });
    off += l.size;
  }
  const u = trainStep.apply(
    state,
    fromHost(host) as ParamTree,
    1 / (k * init.world),
    msg.lr,
    msg.step,
  );
  state = u.state;
  const loss = (await lossSum.data())[0] / k;
  const gradNorm = (await u.gradNorm.data())[0];
  const parts = await readParts(partsSum);
  if (parts) for (const name of Object.keys(parts)) parts[name] /= k;
  return parts ? { loss, gradNorm, parts } : { loss, gradNorm };
}

async function handle(msg: Request): Promise<unknown> {
  switch (msg.type) {
    case "attach":
      shared = msg.shared;
      return { nParams };
    case "step":
      return step(msg);
    case "getState":
      return stateToHost(state);
    case "setState":
      tree.dispose(state);
      state = stateFromHost(msg.state);
      return null;
  }
}

port.on("message", (msg: Request) => {
  handle(msg).then(
    (value) => port.postMessage({ id: msg.id, ok: true, value } satisfies Reply),
    (e: Error) => {
      if (shared) abort(shared);
      port.postMessage({ id: msg.id, ok: false, error: e.stack ?? String(e) } satisfies Reply);
    },
  );
});
port.postMessage({ id: -1, ok: true, value: { nParams } } satisfies Reply);
