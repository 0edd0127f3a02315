/**
 * Node 20 setup for jax-js. Import this module before `@jax-js/jax`, everywhere
 * (the engine index does it for you). It does three things, each a workaround
 * for one engine fact recorded in `docs/ENGINE.md`:
 *
 * 1. `Float16Array` stub: `np.array()` checks `instanceof Float16Array`, which
 *    Node 20 lacks. reca never computes in f16 on wasm (it is unsupported there).
 * 2. Iterator helpers (`.map`, `.filter` on iterators): `np.einsum`, and through
 *    it `nn.dotProductAttention`, uses them; they arrived in Node 22.
 * 3. A `worker_threads`-backed `Worker` global so the wasm backend builds its
 *    kernel worker pool. The backend decides at import time, hence "import first".
 *    Workers are `unref`'d while idle so a finished process exits by itself.
 *
 * 4. V8's relaxed SIMD (off by default in Node 20): jax-js emits fused multiply-add
 *    (`relaxed_madd`) only where relaxed SIMD validates, which is worth +7–16% on its matmul
 *    kernels and +5–8% on a conv train step. V8 flags are process-wide and must be set before
 *    any wasm module compiles, so before jax-js loads. Fused multiply-adds round once where
 *    a multiply then an add round twice, so results move in the last bits: `RECA_RELAXED_SIMD=0`
 *    turns it off, to reproduce numbers recorded before it existed bit for bit (docs/ENGINE.md).
 *
 * Threads: all available cores by default, `RECA_THREADS` overrides. With one
 * thread no pool is built (a 1-worker pool is pure dispatch overhead).
 */
import { resolveObjectURL } from "node:buffer";
import os from "node:os";
import v8 from "node:v8";
import { Worker as NodeWorker } from "node:worker_threads";

// --- 4. Relaxed SIMD (first: before anything compiles wasm) ----------------
if (process.env.RECA_RELAXED_SIMD !== "0")
  v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const g = globalThis as unknown as Record<string, unknown>;

// --- 1. Float16Array stub -------------------------------------------------
if (typeof g.Float16Array === "undefined") {
  g.Float16Array = class Float16Array {};
}

// --- 2. Iterator helpers --------------------------------------------------
type IterProto = {
  map?: (f: (x: unknown, i: number) => unknown) => Iterator<unknown>;
  filter?: (f: (x: unknown, i: number) => boolean) => Iterator<unknown>;
};
const iterProto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as IterProto;
if (!iterProto.map) {
  Object.defineProperty(iterProto, "map", {
    configurable: true,
    writable: true,
    value: function* (this: Iterator<unknown>, f: (x: unknown, i: number) => unknown) {
      let i = 0;
      for (const x of { [Symbol.iterator]: () => this }) yield f(x, i++);
    },
  });
}
if (!iterProto.filter) {
  Object.defineProperty(iterProto, "filter", {
    configurable: true,
    writable: true,
    value: function* (this: Iterator<unknown>, f: (x: unknown, i: number) => boolean) {
      let i = 0;
      for (const x of { [Symbol.iterator]: () => this }) if (f(x, i++)) yield x;
    },
  });
}

// --- 3. Threads -----------------------------------------------------------
/** The number of threads wasm kernels use: `RECA_THREADS`, else all cores. */
export function configuredThreads(): number {
  const raw = process.env.RECA_THREADS;
  if (raw !== undefined && raw !== "") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`RECA_THREADS must be a positive integer, got "${raw}"`);
    }
    return n;
  }
  return os.availableParallelism();
}

/**
 * Runs inside each kernel worker: receives the pool's script as a Blob, evaluates
 * it with browser-like `self`/`postMessage` globals, then forwards messages.
 */
const BOOTSTRAP = `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (m) => parentPort.postMessage(m);
const queue = [];
let ready = false;
parentPort.on("message", (m) => {
  if (!ready) { queue.push(m); return; }
  globalThis.onmessage({ data: m });
});
parentPort.once("message", async (blob) => {
  queue.shift();
  (0, eval)(await blob.text());
  ready = true;
  for (const m of queue.splice(0)) globalThis.onmessage({ data: m });
});
`;

type MessageHandler = ((e: { data: unknown }) => void) | null;
type ErrorHandler = ((e: { message: string }) => void) | null;

/**
 * The subset of the Web Worker API that jax-js's wasm pool uses. The pool talks
 * request/response, so the thread is kept referenced exactly while a reply is
 * outstanding: the process can neither hang on idle workers nor exit mid-kernel.
 */
class ThreadWorker {
  onmessage: MessageHandler = null;
  onerror: ErrorHandler = null;
  #worker: NodeWorker;
  #pending = 0;

  constructor(url: string | URL) {
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`reca worker shim: cannot resolve ${String(url)}`);
    this.#worker = new NodeWorker(BOOTSTRAP, { eval: true });
    this.#worker.unref();
    this.#worker.postMessage(blob);
    this.#worker.on("message", (data: unknown) => {
      this.#pending = Math.max(0, this.#pending - 1);
      if (this.#pending === 0) this.#worker.unref();
      this.onmessage?.({ data });
    });
    this.#worker.on("error", (err: Error) => {
      this.#pending = 0;
      this.#worker.unref();
      if (this.onerror) this.onerror({ message: err.message });
      else throw err;
    });
  }

  postMessage(msg: unknown): void {
    if (this.#pending++ === 0) this.#worker.ref();
    this.#worker.postMessage(msg);
  }

  terminate(): void {
    void this.#worker.terminate();
  }
}

/** Threads the kernel pool was built with (1 = no pool). */
export const kernelThreads: number = (() => {
  const n = configuredThreads();
  if (n > 1 && typeof g.Worker === "undefined" && typeof SharedArrayBuffer !== "undefined") {
    g.Worker = ThreadWorker;
    const nav = (g.navigator ?? {}) as object;
    if (typeof g.navigator === "undefined") {
      Object.defineProperty(g, "navigator", { value: nav, configurable: true, writable: true });
    }
    try {
      Object.defineProperty(nav, "hardwareConcurrency", { value: n, configurable: true });
    } catch {
      // A read-only navigator (Node 21+) keeps its own count.
    }
    return n;
  }
  return 1;
})();
