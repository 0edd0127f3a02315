import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { editItemSet, editSuite } from "../../../src/bench/edit/index.ts";
import { genevalPromptSet, genevalSuite } from "../../../src/bench/geneval/index.ts";
import {
  entriesFromLayout,
  LayoutError,
  readLayout,
  scoreEntries,
  writeItemFolder,
} from "../../../src/bench/layout.ts";
import { createOracle } from "../../../src/bench/oracle.ts";
import { decodePng } from "../../../src/data/png.ts";

const root = mkdtempSync(join(tmpdir(), "reca-layout-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("GenEval folder layout", () => {
  const suite = genevalSuite();
  const metas = genevalPromptSet().slice(0, 5);
  const oracle = createOracle();

  it("round-trips metadata and samples, and scores what it reads", async () => {
    const dir = join(root, "rt");
    metas.forEach((m, i) => {
      const samples = [0, 1, 2].map((k) => oracle.render(suite.groundTruth(m, k, 32), 32));
      writeItemFolder(dir, i, m, { samples });
    });
    mkdirSync(join(dir, "notes")); // non-digit folders are ignored
    writeFileSync(join(dir, "00001", "samples", "preview.png"), "x"); // non-\d+.png ignored
    const folders = readLayout(dir);
    expect(folders.map((f) => f.index)).toEqual([0, 1, 2, 3, 4]);
    expect(folders[1].samples.map((s) => s.sample)).toEqual([0, 1, 2]);
    expect(readFileSync(join(dir, "00000", "metadata.jsonl"), "utf8")).toBe(
      `${JSON.stringify(metas[0])}\n`,
    );
    const { entries, empty } = entriesFromLayout(suite, dir);
    expect(empty).toEqual([]);
    expect(entries).toHaveLength(15);
    expect(entries.map((e) => e.meta)).toEqual(metas.flatMap((m) => [m, m, m]));
    const { scored } = await scoreEntries(suite, entries, oracle.detect, { batchSize: 4 });
    expect(scored.every((s) => s.result.correct)).toBe(true);
  });

  it("scores a corrupt PNG as a failed image and reports empty folders", async () => {
    const dir = join(root, "bad");
    metas.slice(0, 3).forEach((m, i) => {
      const samples =
        i === 2 ? [] : [0, 1].map((k) => oracle.render(suite.groundTruth(m, k, 32), 32));
      writeItemFolder(dir, i, m, { samples });
    });
    writeFileSync(join(dir, "00000", "samples", "00001.png"), "not a png");
    const { entries, empty } = entriesFromLayout(suite, dir);
    expect(empty).toEqual([join(dir, "00002")]);
    const { scored } = await scoreEntries(suite, entries, oracle.detect);
    expect(scored).toHaveLength(4);
    const failed = scored.filter((s) => s.error);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ item: 0, sample: 1, result: { correct: false } });
    expect(failed[0].error).toMatch(/00000\/samples\/00001\.png: unreadable PNG/);
    expect(suite.summarize(scored).images).toBe(4);
  });

  it("gives clear errors for a missing folder, missing or invalid metadata", () => {
    expect(() => readLayout(join(root, "nope"))).toThrow(LayoutError);
    const dir = join(root, "meta");
    writeItemFolder(dir, 0, metas[0]);
    writeItemFolder(dir, 1, { ...metas[1], tag: "shapes" });
    expect(() => entriesFromLayout(suite, dir)).toThrow(/00001\/metadata\.jsonl: tag/);
    writeFileSync(join(dir, "00001", "metadata.jsonl"), "{oops\n");
    expect(() => readLayout(dir)).toThrow(/00001\/metadata\.jsonl:1: not valid JSON/);
    rmSync(join(dir, "00001", "metadata.jsonl"));
    expect(() => readLayout(dir)).toThrow(/00001\/metadata\.jsonl: missing/);
    mkdirSync(join(root, "empty"));
    expect(() => readLayout(join(root, "empty"))).toThrow(/no item folders/);
  });

  it("writes the edit suite's source image next to the metadata", () => {
    const es = editSuite();
    const [item] = editItemSet({ perKind: 1, kinds: ["recolor"] });
    const dir = join(root, "edit");
    writeItemFolder(dir, 0, item, { inputs: es.inputs!(item, 64) });
    expect(decodePng(readFileSync(join(dir, "00000", "source.png"))).width).toBe(64);
    expect(es.parseMetadata(readLayout(dir)[0].metadata, "m")).toEqual(item);
  });
});
