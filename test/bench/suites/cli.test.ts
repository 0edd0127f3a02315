import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { register } from "../../../src/cli/bench.ts";
import { buildProgram } from "../../../src/cli/main.ts";

const dir = mkdtempSync(join(tmpdir(), "reca-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function reca(...args: string[]): Promise<string> {
  const program = await buildProgram([register]);
  let out = "";
  const write = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await program.parseAsync(["node", "reca", "bench", ...args]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = err;
  }
  return out;
}
const json = (f: string) => JSON.parse(readFileSync(f, "utf8"));

describe("reca bench", () => {
  it("scores geneval ground truth with the oracle and writes the JSON result", async () => {
    const f = join(dir, "g.json");
    const text = await reca("geneval", "--ground-truth", "--oracle", "--json", f);
    expect(text).toMatch(/^geneval \(ground-truth, oracle\): overall 1\.0000/);
    const r = json(f);
    expect(r).toMatchObject({ suite: "geneval", overall: 1, images: 344, failures: [] });
    expect(Object.keys(r.tags)).toHaveLength(6);
    expect(r.timings.totalMs).toBeGreaterThan(0);
  });

  it("writes prompts for a generator, then scores the folder it fills", async () => {
    const wp = join(dir, "wp");
    expect(await reca("geneval", "--write-prompts", wp)).toMatch(/wrote 86 geneval item folders/);
    expect(JSON.parse(readFileSync(join(wp, "00085", "metadata.jsonl"), "utf8")).tag).toBe(
      "color_attr",
    );
    expect(readFileSync(join(wp, "prompts.jsonl"), "utf8").split("\n")).toHaveLength(87);
    const gt = join(dir, "egt");
    await reca("edit", "--ground-truth", "--oracle", "--out", gt);
    writeFileSync(join(gt, "00004", "samples", "00000.png"), "broken");
    const f = join(dir, "e.json");
    await reca("edit", "--images", gt, "--oracle", "--json", f);
    const r = json(f);
    expect(r.images).toBe(100);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ item: 4, sample: 0 });
    expect(r.types.add).toBeLessThan(10);
    expect(r.types.remove).toBe(10);
    expect(readFileSync(join(gt, "00000", "source.png")).length).toBeGreaterThan(0);
  });

  it("accepts a GenEval-format prompts file and controls", async () => {
    const p = join(dir, "p.jsonl");
    writeFileSync(
      p,
      '{"tag": "position", "include": [{"class": "square", "count": 1}, {"class": "ring", "count": 1, "position": ["left of", 0]}], "prompt": "a photo of a ring left of a square"}\n',
    );
    const f = join(dir, "p.json");
    await reca(
      "geneval",
      "--prompts",
      p,
      "--ground-truth",
      "--oracle",
      "--per-item",
      "3",
      "--json",
      f,
    );
    expect(json(f)).toMatchObject({ overall: 1, images: 3, tags: { position: 1 } });
    await reca("dpg", "--control", "noise", "--oracle", "--json", f);
    expect(json(f)).toMatchObject({ suite: "dpg", overall: 0, mode: "control noise" });
  });

  it("explains what is wrong", async () => {
    await expect(reca("geneval", "--ground-truth", "--judge", join(dir, "none"))).rejects.toThrow(
      /judge checkpoint missing: .*none\/model\.safetensors .*--oracle/,
    );
    await expect(reca("geneval", "--ground-truth", "--control", "noise")).rejects.toThrow(
      /exactly one of/,
    );
    await expect(reca("dpg", "--prompts", "x", "--ground-truth")).rejects.toThrow(/geneval only/);
    await expect(reca("edit", "--images", join(dir, "missing"), "--oracle")).rejects.toThrow(
      /not a folder/,
    );
    await expect(reca("geneval", "--control", "blur", "--oracle")).rejects.toThrow(
      /noise or shuffled/,
    );
  });
});
