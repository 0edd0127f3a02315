import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // jax-js keeps one wasm instance per process; forks isolate them cleanly.
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
