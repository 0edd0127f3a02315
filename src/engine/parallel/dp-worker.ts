/**
 * One data-parallel replica. It holds its own jax-js instance and a full copy
 * of the training state, computes gradients on its shard of each batch, writes
 * them to its slot of shared memory, waits at a barrier, sums all slots in rank
 * order (identical on every replica, so replicas stay bit-identical) and applies
 * the same AdamW update. On ONNX Runtime (`RECA_ENGINE`, the default) the replica's state and
 * step live in ORT (one intra-op thread per replica), the all-reduce is the same.
 */
import { parentPort, workerData } from "node:worker_threads";
import { initEngine, type JaxArray, tree } from "../jax.ts";
import {
  hostTreeToOrt,
  type OrtTrainState,
  OrtTrainStep,
  ortStateFromHost,
  ortStateToHost,
  ortTreeToHost,
} from "../onnx/train-step.ts";
import {
  configuredEngine,
  freshState,
  microBatchCount,
  readParts,
  stateFromHost,
  stateToHost,
} from "../runner.ts";
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
const onOrt = configuredEngine() === "ort";
const ortStep = onOrt ? new OrtTrainStep(task, init.cfg) : null;
let ortState: OrtTrainState | null = null;
if (onOrt) {
  ortState = ortStateFromHost(await stateToHost(state));
  tree.dispose(state);
}

/** Sum every replica's slot, in rank order (the same sum on every replica). */
function allReduce(): Map<string, HostTensor> {
  barrier(shared!, init.world);
  const total = new Float32Array(nParams);
  for (let r = 0; r < init.world; r++) {
    const slot = gradSlot(shared!, r, nParams);
    for (let i = 0; i < nParams; i++) total[i] += slot[i];
  }
  const host = new Map<string, HostTensor>();
  let off = 0;
  for (const l of layout) {
    host.set(l.name, { shape: l.shape, data: total.subarray(off, off + l.size) });
    off += l.size;
  }
  return host;
}

async function stepOrt(msg: Extract<Request, { type: "step" }>) {
  const k = microBatchCount(batchSize(msg.shard), init.microBatchSize);
  const g = await ortStep!.grads(ortState!.params, splitBatch(msg.shard, k));
  const named = ortTreeToHost(g.grads);
  const mine = gradSlot(shared!, init.rank, nParams);
  let off = 0;
  for (const l of layout) {
    mine.set(named.get(l.name)!.data as Float32Array, off);
    off += l.size;
  }
  const total = hostTreeToOrt(allReduce());
  const u = await ortStep!.apply(ortState!, total, 1 / (k * init.world), msg.lr, msg.step);
  ortState = u.state;
  const loss = g.lossSum / k;
  const parts = g.partsSum
    ? Object.fromEntries(Object.entries(g.partsSum).map(([n, v]) => [n, v / k]))
    : undefined;
  return parts ? { loss, gradNorm: u.gradNorm, parts } : { loss, gradNorm: u.gradNorm };
}

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
  const host = allReduce();
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
      if (!shared) throw new Error("step before attach");
      return onOrt ? stepOrt(msg) : step(msg);
    case "getState":
      return onOrt ? ortStateToHost(ortState!) : stateToHost(state);
    case "setState":
      if (onOrt) ortState = ortStateFromHost(msg.state);
      else {
        tree.dispose(state);
        state = stateFromHost(msg.state);
      }
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
