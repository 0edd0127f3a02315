/**
 * The inference side end to end on a tiny random-init model (test/helpers/tiny-umm.ts): batched
 * generate / edit / answer, text checks, `evalModel` over all four suites, the gap probe, and
 * the commands as spawned processes. Outputs are noise; shapes, files, keys and errors are real.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVAL_SUITES, evalModel, formatEvalTable, prepareLayoutDir } from "../../src/bench/eval.ts";
import type { GapResult } from "../../src/bench/gap.ts";
import { genevalSuite } from "../../src/bench/geneval/index.ts";
import { DEFAULT_JUDGE_DIR, loadJudge } from "../../src/bench/judge/index.ts";
import type { Detector } from "../../src/bench/judge/types.ts";
import { entriesFromLayout } from "../../src/bench/layout.ts";
import { main } from "../../src/cli/main.ts";
import { decodePng } from "../../src/data/png.ts";
import {
  answerMany,
  checkCondition,
  checkQuestion,
  editMany,
  fitCondition,
  generateMany,
  type InferenceModel,
  PromptError,
} from "../../src/sample/batched.ts";
import { loadUmm, type UmmModel } from "../../src/umm/infer.ts";
import { type TinyUmm, writeTinyUmm } from "../helpers/tiny-umm.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-infer-"));
let tiny: TinyUmm;
let model: UmmModel;
let detect: Detector;

beforeAll(async () => {
  tiny = await writeTinyUmm(tmp, { numCategories: 2 });
  model = loadUmm(tiny.model);
  detect = await loadJudge(DEFAULT_JUDGE_DIR);
});
afterAll(() => {
  model?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const inUnit = (data: Float32Array) => data.every((v) => v >= 0 && v <= 1);

describe("batched inference", () => {
  it("generates, edits and answers in fixed chunks, deterministically per seed", async () => {
    const prompts = ["a photo of a red circle", "a blue square", "two circles"];
    const a = await generateMany(model, prompts, { chunk: 2, seed: 0 });
    expect(a.map((x) => [x.width, x.height])).toEqual([
      [32, 32],
      [32, 32],
      [32, 32],
    ]);
    expect(a.every((x) => inUnit(x.data))).toBe(true);
    const again = await generateMany(model, prompts, { chunk: 2, seed: 0 });
    expect(again[2].data).toEqual(a[2].data);
    const other = await generateMany(model, prompts, { chunk: 2, seed: 1 });
    expect(other[0].data).not.toEqual(a[0].data);

    const edited = await editMany(
      model,
      a.slice(0, 2),
      ["make the red circle blue", "remove the square"],
      {
        chunk: 2,
      },
    );
    expect(edited).toHaveLength(2);
    expect(edited[0].data.length).toBe(32 * 32 * 3);

    const answers = await answerMany(
      model,
      a,
      ["what color is the circle?", "what shape is shown?", "how many objects are there?"],
      {
        chunk: 2,
        maxTokens: 2,
      },
    );
    expect(answers).toHaveLength(3);
    for (const s of answers) expect(s.split(" ").filter(Boolean).length).toBeLessThanOrEqual(2);
  });

  it("turns bad text and images into PromptErrors before any device work", async () => {
    expect(() => checkCondition(model, "a photo of a zebra")).toThrow(PromptError);
    expect(() => checkCondition(model, "a photo of a zebra")).toThrow(
      /"zebra" not in the model's vocabulary/,
    );
    const long = Array.from({ length: 70 }, () => "red").join(" ");
    expect(() => checkCondition(model, long)).toThrow(
      /71 condition tokens, the model reads at most 64/,
    );
    expect(() => checkQuestion(model, `what color is the ${long} circle?`)).toThrow(PromptError);
    await expect(generateMany(model, ["a unicorn"])).rejects.toThrow(/"unicorn"/);
    const small = { width: 16, height: 16, data: new Float32Array(16 * 16 * 3) };
    await expect(editMany(model, [small], ["remove the circle"])).rejects.toThrow(
      /reads 32×32 images, got 16×16/,
    );
    // A prompt written for a longer condition is cut at a word boundary.
    const short = {
      tokenizer: model.tokenizer,
      config: { ...model.config, sequence: { conditionLen: 5, textLen: 32 } },
    } as InferenceModel;
    expect(fitCondition(short, "a photo of a red circle")).toEqual({
      text: "a photo of a",
      cut: true,
    });
    expect(fitCondition(short, "a red circle")).toEqual({ text: "a red circle", cut: false });
  });
});

describe("evaluation", () => {
  it("generates and scores all four suites, keyed by suite, and writes a scoreable layout", async () => {
    const out = join(tmp, "eval");
    const bars: string[] = [];
    const r = await evalModel(model, detect, {
      suites: EVAL_SUITES,
      numCategories: 2,
      limit: 2,
      perItem: 1,
      sampling: { chunk: 2 },
      outDir: out,
      progress: (label) => {
        bars.push(label);
        return { update() {}, stop() {} };
      },
    });
    expect(Object.keys(r)).toEqual(["geneval", "dpg", "edit", "und"]);
    expect(bars).toEqual([
      "geneval generate",
      "geneval score",
      "dpg generate",
      "dpg score",
      "edit edit",
      "edit score",
      "und answer",
    ]);
    expect(r.geneval).toMatchObject({
      images: 2,
      items: 2,
      perItem: 1,
      failures: 0,
      truncatedPrompts: 0,
    });
    expect(Object.keys(r.geneval!.tags as object).length).toBeGreaterThan(0);
    expect(r.dpg!.overall).toBeGreaterThanOrEqual(0);
    expect(r.dpg!.overall).toBeLessThanOrEqual(100);
    expect(r.edit).toMatchObject({ images: 2, items: 2 });
    expect(r.und).toMatchObject({ images: 2, questions: 8 });
    expect(r.und!.overall).toBeGreaterThanOrEqual(0);
    expect(formatEvalTable(r).split("\n")).toHaveLength(5);

    // What `reca bench geneval --images DIR` would read back.
    const { entries, empty } = entriesFromLayout(
      genevalSuite({ numCategories: 2 }),
      join(out, "geneval"),
    );
    expect(entries).toHaveLength(2);
    expect(empty).toEqual([]);
    expect(existsSync(join(out, "edit", "00001", "source.png"))).toBe(true);
    expect(existsSync(join(out, "dpg", "00001", "samples", "00000.png"))).toBe(true);
    // A second run into the same folders must ask before replacing them.
    expect(() => prepareLayoutDir(join(out, "edit"))).toThrow(/already holds 2 item folders/);
    prepareLayoutDir(join(out, "edit"), true);
    expect(existsSync(join(out, "edit", "00000"))).toBe(false);
  });
});

/** Run the CLI in this process (no start-up cost): stdout, stderr and the exit code. */
async function recaInProcess(...args: string[]) {
  let stdout = "";
  let stderr = "";
  const write = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((x: string) => {
    stdout += x;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((x: string) => {
    stderr += x;
    return true;
  }) as typeof process.stderr.write;
  try {
    await main(["node", "reca", ...args]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = err;
  }
  const status = process.exitCode ?? 0;
  process.exitCode = undefined;
  return { status, stdout, stderr };
}

describe("commands", () => {
  it("reca generate runs as a process and writes a contact sheet of --n samples", () => {
    const sheet = join(tmp, "cli", "sheet.png");
    const bin = join(import.meta.dirname, "../../bin/reca.mjs");
    const g = spawnSync(
      process.execPath,
      [
        bin,
        "generate",
        "--model",
        tiny.model,
        "--prompt",
        "a red circle",
        "--n",
        "2",
        "--out",
        sheet,
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/wrote .*sheet\.png \(2 samples, contact sheet, seed 0\)/);
    const img = decodePng(readFileSync(sheet));
    expect([img.width, img.height]).toEqual([2 * 32 + 3 * 2, 32 + 2 * 2]);
  });

  it("answer, eval and probe gap run; bad input exits 2 with a clear message", async () => {
    const image = join(tmp, "cli", "one.png");
    const g = await recaInProcess(
      "generate",
      "--model",
      tiny.model,
      "--prompt",
      "a red circle",
      "--out",
      image,
    );
    expect(g.status, g.stderr).toBe(0);
    const a = await recaInProcess(
      "answer",
      "--model",
      tiny.model,
      "--image",
      image,
      "--question",
      "what color is the circle?",
      "--max-tokens",
      "2",
    );
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout.endsWith("\n")).toBe(true);
    const sheet = join(tmp, "cli", "sheet.png");
    const wide = await recaInProcess(
      "answer",
      "--model",
      tiny.model,
      "--image",
      sheet,
      "--question",
      "what?",
    );
    expect(wide.status).toBe(2);
    expect(wide.stderr).toMatch(/sheet\.png: 70×36; expected a square image/);
    const bad = await recaInProcess(
      "generate",
      "--model",
      tiny.model,
      "--prompt",
      "a zebra",
      "--out",
      image,
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^reca: "a zebra": "zebra" not in the model's vocabulary/);
    const missing = await recaInProcess(
      "edit",
      "--model",
      join(tmp, "nope"),
      "--image",
      image,
      "--instruction",
      "remove the circle",
      "--out",
      image,
    );
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/model directory .*nope not found/);

    // generate --suite writes the layout `reca bench <suite> --images` scores.
    const layout = join(tmp, "cli", "geneval");
    const gs = await recaInProcess(
      "generate",
      "--model",
      tiny.model,
      "--suite",
      "geneval",
      "--limit",
      "2",
      "--n",
      "1",
      "--chunk",
      "2",
      "--out",
      layout,
    );
    expect(gs.status, gs.stderr).toBe(0);
    expect(gs.stdout).toMatch(/score them with: reca bench geneval --images .* --categories 2/);
    const again = await recaInProcess(
      "generate",
      "--model",
      tiny.model,
      "--suite",
      "geneval",
      "--out",
      layout,
    );
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already holds 2 item folders; pass --force/);
    const scored = await recaInProcess("bench", "geneval", "--images", layout, "--categories", "2");
    expect(scored.status, scored.stderr).toBe(0);
    expect(scored.stdout).toMatch(/\[2 images, 0 failed/);

    const json = join(tmp, "cli", "eval.json");
    const e = await recaInProcess(
      "eval",
      "--model",
      tiny.model,
      "--suite",
      "geneval,und",
      "--limit",
      "1",
      "--n",
      "1",
      "--chunk",
      "2",
      "--json",
      json,
    );
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/^suite +overall +groups\ngeneval .*\nund /);
    expect(Object.keys(JSON.parse(readFileSync(json, "utf8")))).toEqual(["geneval", "und"]);
    const unknown = await recaInProcess("eval", "--model", tiny.model, "--suite", "geneval,wise");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown suite\(s\) wise/);

    const gj = join(tmp, "cli", "gap", "gap.json");
    const p = await recaInProcess(
      "probe",
      "gap",
      "--model",
      tiny.model,
      "--samples",
      "1",
      "--chunk",
      "4",
      "--json",
      gj,
    );
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/non-dominant +recognition/);
    const gap = JSON.parse(readFileSync(gj, "utf8")) as GapResult;
    expect(gap.cells).toHaveLength(20);
    expect(gap.cells.filter((c) => c.dominant).map((c) => `${c.color} ${c.category}`)).toEqual([
      "red circle",
      "blue square",
    ]);
    for (const c of gap.cells)
      for (const v of [c.recognition, c.generation]) expect([0, 1]).toContain(v);
    expect(Object.keys(gap.summary)).toEqual(["all", "dominant", "nonDominant"]);
    expect(gap.summary.dominant.pairs + gap.summary.nonDominant.pairs).toBe(20);
    for (const f of ["recognition.png", "generation.png"]) {
      const h = decodePng(readFileSync(join(tmp, "cli", "gap", f)));
      expect([h.width, h.height]).toEqual([2 * 16 * 11, 2 * 16 * 3]);
    }
  });
});
