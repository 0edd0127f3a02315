/**
 * Edit aggregation: GEdit's (mean SC, PQ and O per type — O the mean of the
 * per-image √(SC·PQ), not √ of the means — then unweighted means over types)
 * and ImgEdit's (per-type mean of item scores; overall both over types, the
 * headline, and over items, what its script prints).
 */
import { EDIT_KINDS, type EditKind } from "../../world/edits.ts";
import type { ScoredImage } from "../layout.ts";
import type { EditItem } from "./items.ts";
import type { EditResult } from "./score.ts";

export type EditTypeScores = { sc: number; pq: number; o: number; imgedit: number; images: number };

export type EditSummary = {
  /** GEdit O: unweighted mean over types of the per-type mean O (0–10). */
  overall: number;
  /** Per type O. */
  types: Partial<Record<EditKind, number>>;
  typeDetails: Partial<Record<EditKind, EditTypeScores>>;
  sc: number;
  pq: number;
  imgedit: { overall: number; itemWeighted: number };
  images: number;
  items: number;
};

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export function summarizeEdit(
  scored: readonly Pick<ScoredImage<EditItem, EditResult>, "item" | "meta" | "result">[],
): EditSummary {
  const types: Partial<Record<EditKind, number>> = {};
  const typeDetails: Partial<Record<EditKind, EditTypeScores>> = {};
  for (const kind of EDIT_KINDS) {
    const rs = scored.filter((s) => s.meta.kind === kind).map((s) => s.result);
    if (rs.length === 0) continue;
    const d = {
      sc: mean(rs.map((r) => r.sc)),
      pq: mean(rs.map((r) => r.pq)),
      o: mean(rs.map((r) => r.o)),
      imgedit: mean(rs.map((r) => r.imgedit)),
      images: rs.length,
    };
    typeDetails[kind] = d;
    types[kind] = d.o;
  }
  const ds = Object.values(typeDetails) as EditTypeScores[];
  return {
    overall: mean(ds.map((d) => d.o)),
    types,
    typeDetails,
    sc: mean(ds.map((d) => d.sc)),
    pq: mean(ds.map((d) => d.pq)),
    imgedit: {
      overall: mean(ds.map((d) => d.imgedit)),
      itemWeighted: mean(scored.map((s) => s.result.imgedit)),
    },
    images: scored.length,
    items: new Set(scored.map((s) => s.item)).size,
  };
}
