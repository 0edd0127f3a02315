/** Hand-built detections for rule tests, and a whole-suite run at 32 px. */
import { controlEntries } from "../../../src/bench/controls.ts";
import type { BoxXYXY, Detection, Detector } from "../../../src/bench/judge/types.ts";
import { type BenchSuite, groundTruthEntries, scoreEntries } from "../../../src/bench/layout.ts";
import { createOracle } from "../../../src/bench/oracle.ts";
import type { Category, Color } from "../../../src/world/vocab.ts";

export function det(
  category: Category,
  box: BoxXYXY,
  score = 0.95,
  color: Color = "red",
): Detection {
  return { category, color, box, score };
}

/** A w×h box centred at (cx, cy). */
export function boxAt(cx: number, cy: number, w = 4, h = 4): BoxXYXY {
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

/** Score ground truth or a control for `metas`; `detect` null means the oracle. */
export async function runSuite(
  suite: BenchSuite,
  metas: unknown[],
  mode: "ground-truth" | "noise" | "shuffled",
  perItem: number,
  detect: Detector | null,
) {
  const oracle = createOracle();
  const entries =
    mode === "ground-truth"
      ? groundTruthEntries(suite, metas, perItem, 32, oracle.render)
      : controlEntries(mode, suite, metas, perItem, 32, oracle.render);
  const { scored } = await scoreEntries(suite, entries, detect ?? oracle.detect);
  return suite.summarize(scored);
}
