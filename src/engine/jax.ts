/**
 * The one door to jax-js. Importing this module installs the Node 20 setup
 * (polyfills, kernel worker threads) before `@jax-js/jax` is evaluated, which is
 * why nothing else in reca imports `@jax-js/jax` directly (biome enforces it).
 */
import "./node-setup.ts";
import { init } from "@jax-js/jax";

export type { Array as JaxArray } from "@jax-js/jax";
export * from "@jax-js/jax";

let ready: Promise<unknown> | null = null;

/** Initialise the wasm backend once per process (idempotent). */
export function initEngine(): Promise<void> {
  ready ??= init("wasm");
  return ready.then(() => undefined);
}
