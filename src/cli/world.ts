/**
 * `reca world vocab` and `reca world sample`: look at the world before training
 * on it. Heavy imports live inside the action handlers.
 */
import type { Command } from "commander";
import { UserError } from "../util/config.ts";
import { intOption } from "./options.ts";

export function register(program: Command): void {
  const world = program.command("world").description("the synthetic shapes world (no ML)");

  world
    .command("vocab")
    .description("print categories, colours, sizes, relations and number words")
    .option("--json", "machine-readable output")
    .option("--categories <n>", "active categories (2-10)", intOption("categories", 2, 10), 6)
    .action(async (o: { json?: boolean; categories: number }) => {
      const { vocabulary } = await import("../world/vocab.ts");
      const v = vocabulary(o.categories);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
        return;
      }
      const lines = [
        `categories: ${v.categories.map((c) => `${c.singular}/${c.plural}`).join(", ")}`,
        `colors:     ${v.colors.map((c) => `${c.name}(${c.rgb.join(",")})`).join(" ")}`,
        `background: rgb(${v.background.join(",")})`,
        `dominant:   ${Object.entries(v.dominantColor)
          .slice(0, o.categories)
          .map(([k, c]) => `${k}→${c}`)
          .join(", ")}`,
        `sizes:      ${v.sizes.map((s) => `${s.name}(${s.radiusAt32px.map((r) => r.toFixed(2)).join("-")}px@32)`).join(" ")}`,
        `relations:  ${v.relations.join(", ")}`,
        `numbers:    ${v.numberWords.join(", ")}; vague: ${Object.keys(v.vagueCounts).join(", ")}`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  world
    .command("sample")
    .description("render random scenes with every caption kind, questions and an edit")
    .requiredOption("--out <dir>", "output folder")
    .option("--n <n>", "number of scenes", intOption("n", 1, 10_000), 16)
    .option("--seed <s>", "seed", intOption("seed", 0, 2 ** 32 - 1), 0)
    .option("--size <px>", "image side: 32 or 64", intOption("size", 32, 64), 32)
    .option("--categories <n>", "active categories (2-10)", intOption("categories", 2, 10), 6)
    .option("--biased", "biased colour prior (dominant colour per category)")
    .action(
      async (o: {
        out: string;
        n: number;
        seed: number;
        size: number;
        categories: number;
        biased?: boolean;
      }) => {
        if (o.size !== 32 && o.size !== 64) throw new UserError("--size must be 32 or 64");
        await sampleWorld(o);
        process.stdout.write(`wrote ${o.n} images, captions.jsonl and contact.png to ${o.out}\n`);
      },
    );
}

/**
 * Writes DIR/00000.png …, DIR/captions.jsonl (one line per scene: file, scene,
 * dense and sparse captions, VQA, one edit) and DIR/contact.png (4× upscaled grid).
 * Scene k is drawn from WorldRng.fromParts("cli/world-sample", seed, k).
 */
async function sampleWorld(o: {
  out: string;
  n: number;
  seed: number;
  size: number;
  categories: number;
  biased?: boolean;
}): Promise<void> {
  const { join } = await import("node:path");
  const { atomicWriteFile } = await import("../util/fsutil.ts");
  const { contactSheet, encodePng } = await import("../data/png.ts");
  const w = await import("../world/index.ts");
  const so = {
    categories: w.worldCategories(o.categories),
    colorPrior: o.biased ? ("biased" as const) : ("uniform" as const),
  };
  const images = [];
  const lines: string[] = [];
  for (let k = 0; k < o.n; k++) {
    const rng = w.WorldRng.fromParts("cli/world-sample", o.seed, k);
    const scene = w.sampleScene(rng, so);
    const r = w.renderScene(scene, { size: o.size });
    const file = `${String(k).padStart(5, "0")}.png`;
    atomicWriteFile(join(o.out, file), encodePng(r.image));
    images.push(r.image);
    const edit = w.sampleEdit(rng, scene, so);
    lines.push(
      JSON.stringify({
        index: k,
        file,
        scene,
        boxes: r.boxes,
        dense: w.denseCaption(scene, rng),
        sparse: w.sparseCaption(scene, rng).text,
        vqa: w.vqaQuestions(scene, rng, { n: 4, categories: so.categories }),
        edit: edit && { kind: edit.kind, instruction: edit.instruction, target: edit.target },
      }),
    );
  }
  atomicWriteFile(join(o.out, "captions.jsonl"), `${lines.join("\n")}\n`);
  const scale = Math.max(1, Math.round(128 / o.size));
  atomicWriteFile(join(o.out, "contact.png"), encodePng(contactSheet(images, { scale, pad: 4 })));
}
