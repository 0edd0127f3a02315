import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.ts";
import { register } from "../../src/cli/world.ts";
import { decodePng } from "../../src/data/png.ts";

const dir = mkdtempSync(join(tmpdir(), "reca-world-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("reca world", () => {
  it("sample writes PNGs, captions.jsonl and a contact sheet", async () => {
    const out = join(dir, "s");
    const program = await buildProgram([register]);
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await program.parseAsync([
        "node",
        "reca",
        "world",
        "sample",
        "--n",
        "5",
        "--out",
        out,
        "--size",
        "64",
        "--seed",
        "3",
      ]);
    } finally {
      process.stdout.write = write;
    }
    for (let k = 0; k < 5; k++) expect(existsSync(join(out, `0000${k}.png`))).toBe(true);
    expect(decodePng(readFileSync(join(out, "00000.png"))).width).toBe(64);
    const lines = readFileSync(join(out, "captions.jsonl"), "utf8").trim().split("\n");
    expect(lines).toHaveLength(5);
    const rec = JSON.parse(lines[0]);
    expect(Object.keys(rec)).toEqual(
      expect.arrayContaining(["file", "scene", "dense", "sparse", "vqa", "edit", "boxes"]),
    );
    expect(rec.scene.objects.length).toBeGreaterThan(0);
    expect(decodePng(readFileSync(join(out, "contact.png"))).width).toBeGreaterThan(64 * 2);
  });

  it("vocab --json runs through the real entry point", () => {
    const text = execFileSync(process.execPath, ["bin/reca.mjs", "world", "vocab", "--json"], {
      encoding: "utf8",
    });
    const v = JSON.parse(text);
    expect(v.colors).toHaveLength(10);
    expect(v.categories).toHaveLength(6);
    expect(v.relations).toEqual(["left of", "right of", "above", "below"]);
  });
});
