import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodePng } from "../../../src/data/png.ts";
import { WorldRng } from "../../../src/world/random.ts";
import { renderScene } from "../../../src/world/render.ts";
import { buildScene } from "../../../src/world/scene.ts";

const bin = join(import.meta.dirname, "../../../bin/reca.mjs");
const reca = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000 });
const tmp = mkdtempSync(join(tmpdir(), "reca-judge-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("reca judge", () => {
  it("detect --json prints the objects of a PNG; eval writes --json", () => {
    const scene = buildScene(new WorldRng(3), {
      objects: [
        { category: "ring", color: "green" },
        { category: "square", color: "white" },
      ],
    });
    const png = join(tmp, "scene.png");
    writeFileSync(png, encodePng(renderScene(scene).image));
    const r = reca("judge", "detect", "--image", png, "--json");
    expect(r.status, r.stderr).toBe(0);
    const { detections } = JSON.parse(r.stdout);
    const found = detections
      .filter((d: { score: number }) => d.score > 0.9)
      .map((d: { color: string; category: string }) => `${d.color} ${d.category}`)
      .sort();
    expect(found).toEqual(["green ring", "white square"]);

    const json = join(tmp, "eval.json");
    const e = reca("judge", "eval", "--n", "20", "--json", json);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/detection F1/);
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.clean.images).toBe(20);
    expect(report.degraded.calibration).toHaveLength(10);
  });

  it("rejects a missing image and a bad --size with a one-line error", () => {
    const r = reca("judge", "detect", "--image", join(tmp, "nope.png"));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/image not found/);
    const s = reca("judge", "eval", "--size", "48");
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/--size must be 32 or 64/);
  });
});
