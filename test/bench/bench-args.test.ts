import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The bench scripts' shared command line (bench/util.ts benchArgs), run as a user runs them.
const run = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "bench/diagnostics/und-paired.ts", ...args], {
    encoding: "utf8",
  });

describe("bench scripts' command line", () => {
  it("prints help and exits 0 on --help; an unknown option or a missing value exits 2 with help", () => {
    const help = run("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npx tsx bench\/diagnostics\/und-paired\.ts/);
    const bogus = run("--bogus");
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toContain("Unknown option '--bogus'");
    expect(bogus.stderr).toContain("Usage:");
    const missing = run("--models");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--models.*argument missing/);
    // No models at all: the script's own check, same exit code.
    expect(run().status).toBe(2);
  });
});
