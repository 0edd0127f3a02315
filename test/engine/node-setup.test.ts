import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const script = join(import.meta.dirname, "../fixtures/exit-script.ts");
const run = (threads: string) =>
  spawnSync(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, RECA_THREADS: threads },
    encoding: "utf8",
    timeout: 60_000,
  });

describe("node setup", () => {
  it("runs kernels on worker threads and exits by itself", () => {
    const r = run("2");
    expect(r.error).toBeUndefined(); // no timeout: the workers did not keep the process alive
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ kernelThreads: 2, y0: 512 });
  });

  it("RECA_THREADS=1 builds no worker pool", () => {
    const r = run("1");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ kernelThreads: 1, y0: 512 });
  });

  it("rejects a bad RECA_THREADS", () => {
    const r = run("zero");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/RECA_THREADS must be a positive integer/);
  });
});
