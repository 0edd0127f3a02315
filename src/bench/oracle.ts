/**
 * The oracle detector: reads ground truth instead of pixels. An image is
 * recognised only if it was registered (by its 8-bit content, so a PNG round
 * trip still matches); its detections are the scene's visible objects with
 * their rendered pixel boxes and score 1.0. Anything else — noise, a
 * generator's output — gets zero detections. Used by the suite tests and by
 * `reca bench … --oracle` to check the suites' wiring independently of the
 * trained judge.
 */
import { createHash } from "node:crypto";
import { type Rendered, type RgbImage, renderScene, type Scene, toByte } from "../world/index.ts";
import type { Detection, Detector } from "./judge/types.ts";

/** Every visible object of `scene` as a perfect detection (pixel box, score 1). */
export function oracleDetections(scene: Scene, rendered: Rendered): Detection[] {
  const out: Detection[] = [];
  scene.objects.forEach((o, i) => {
    const b = rendered.boxes[i];
    if (b)
      out.push({ category: o.category, color: o.color, box: [b.x1, b.y1, b.x2, b.y2], score: 1 });
  });
  return out;
}

/** Detections of `scene` rendered at `size` pixels. */
export function sceneDetections(scene: Scene, size: number): Detection[] {
  return oracleDetections(scene, renderScene(scene, { size }));
}

/** A content key of an image as PNG stores it (8-bit RGB plus its size). */
export function imageKey(img: RgbImage): string {
  const bytes = new Uint8Array(img.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = toByte(img.data[i]);
  return `${img.width}x${img.height}:${createHash("sha1").update(bytes).digest("hex")}`;
}

export type Oracle = {
  /** Detections for registered images; [] for unknown ones. */
  detect: Detector;
  /** Remember `detections` as the truth for `image`. */
  add(image: RgbImage, detections: Detection[]): void;
  /** Render `scene` at `size`, register the render and return its image. */
  render(scene: Scene, size: number): RgbImage;
  /** Registered images. */
  readonly size: number;
};

export function createOracle(): Oracle {
  const table = new Map<string, Detection[]>();
  return {
    detect: async (images) =>
      images.map((img) => (table.get(imageKey(img)) ?? []).map((d) => ({ ...d }))),
    add(image, detections) {
      table.set(imageKey(image), detections);
    },
    render(scene, size) {
      const r = renderScene(scene, { size });
      table.set(imageKey(r.image), oracleDetections(scene, r));
      return r.image;
    },
    get size() {
      return table.size;
    },
  };
}
