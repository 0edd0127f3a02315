/**
 * Shape geometry. Each category is an inside-test in unit coordinates: (u, v) is
 * the offset from the object centre divided by its radius, v pointing down (image
 * convention). Shapes are sized so their areas are comparable to the unit disc,
 * which keeps a "large square" and a "large circle" about equally heavy.
 */
import type { Category } from "./vocab.ts";

type Inside = (u: number, v: number) => boolean;

function polygon(pts: readonly (readonly [number, number])[]): Inside {
  return (u, v) => {
    let inside = false;
    for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
      const [xi, yi] = pts[i];
      const [xj, yj] = pts[j];
      if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
}

function starPoints(outer: number, inner: number, n: number): [number, number][] {
  const pts: [number, number][] = [];
  for (let k = 0; k < 2 * n; k++) {
    const r = k % 2 === 0 ? outer : inner;
    const a = -Math.PI / 2 + (k * Math.PI) / n; // first point straight up
    pts.push([r * Math.cos(a), r * Math.sin(a) + 0.08]); // nudge down so the box is centred
  }
  return pts;
}

const triangle = polygon([
  [0, -1.05],
  [1.1, 0.85],
  [-1.1, 0.85],
]);
const star = starPoints(1.12, 0.48, 5);
const starInside = polygon(star);

/** The classic heart curve (x²+y²−1)³ − x²y³ ≤ 0, y up, scaled into the unit box. */
function heart(u: number, v: number): boolean {
  const x = u * 1.2;
  const y = -v * 1.2 + 0.1;
  const a = x * x + y * y - 1;
  return a * a * a - x * x * y * y * y <= 0;
}

export const SHAPES: Readonly<Record<Category, Inside>> = {
  circle: (u, v) => u * u + v * v <= 1,
  square: (u, v) => Math.abs(u) <= 0.85 && Math.abs(v) <= 0.85,
  triangle,
  cross: (u, v) => {
    const au = Math.abs(u);
    const av = Math.abs(v);
    return (au <= 0.34 && av <= 1) || (av <= 0.34 && au <= 1);
  },
  diamond: (u, v) => Math.abs(u) / 0.88 + Math.abs(v) / 1.15 <= 1,
  ring: (u, v) => {
    const d = u * u + v * v;
    return d <= 1 && d >= 0.5 * 0.5;
  },
  star: starInside,
  heart,
  crescent: (u, v) => u * u + v * v <= 1 && (u - 0.45) ** 2 + (v + 0.05) ** 2 > 0.78 ** 2,
  bar: (u, v) => Math.abs(u) <= 1.1 && Math.abs(v) <= 0.45,
};

/** Extent of a shape in unit coordinates: its box and its bounding-disc radius. */
export type ShapeExtent = { x1: number; y1: number; x2: number; y2: number; bound: number };

const extents = new Map<Category, ShapeExtent>();

/**
 * Measured once per category on a fine grid (step 1/256 of a unit), then rounded
 * outward by one step, so boxes are conservative and identical on every platform.
 */
export function shapeExtent(category: Category): ShapeExtent {
  const cached = extents.get(category);
  if (cached) return cached;
  const inside = SHAPES[category];
  const n = 384;
  const lim = 1.5;
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  let bound = 0;
  for (let i = 0; i <= 2 * n; i++) {
    const v = -lim + (i * lim) / n;
    for (let j = 0; j <= 2 * n; j++) {
      const u = -lim + (j * lim) / n;
      if (!inside(u, v)) continue;
      if (u < x1) x1 = u;
      if (u > x2) x2 = u;
      if (v < y1) y1 = v;
      if (v > y2) y2 = v;
      bound = Math.max(bound, Math.hypot(u, v));
    }
  }
  const step = lim / n;
  const e = { x1: x1 - step, y1: y1 - step, x2: x2 + step, y2: y2 + step, bound: bound + step };
  extents.set(category, e);
  return e;
}
