/**
 * Seeded degradations of an `RgbImage` that mimic what a small generator produces:
 * blur, additive noise, colour jitter, coarse quantisation, a slight shape wobble
 * (a smooth random warp) and speckle. The judge trains on them and is scored under
 * them (issue 3: "generated images are never clean").
 *
 * Everything is pure and deterministic: a `DegradeSpec` holds every parameter,
 * and the only randomness inside `applyDegradation` (noise, warp field, speckle)
 * comes from `WorldRng.fromParts("degrade", seed)`. Outputs stay in [0, 1].
 *
 * Pixel-sized parameters (blur σ, warp amplitude) are given for a 32×32 image and
 * scale with `width / 32`, so a 64×64 image is degraded "the same" relative to
 * its objects.
 */
import { WorldRng } from "../world/random.ts";
import type { RgbImage } from "../world/render.ts";

export type ColorJitter = {
  /** Added to every channel. */
  brightness: number;
  /** Factor about the image's mean luminance. */
  contrast: number;
  /** Factor about each pixel's luminance (0 = gray). */
  saturation: number;
  /** Hue rotation in turns (1 = 360°), in YIQ chroma space. */
  hue: number;
  /** Per-channel multiplicative gain (white-balance error). */
  gain: [number, number, number];
};

/** Every parameter of one degradation; absent parts are not applied. Order is fixed (below). */
export type DegradeSpec = {
  /** Smooth random displacement; amplitude in pixels (at 32 px), on a cells×cells grid. */
  warp?: { amplitude: number; cells: number };
  /** Gaussian blur σ in pixels (at 32 px). */
  blur?: { sigma: number };
  jitter?: ColorJitter;
  /** Additive i.i.d. Gaussian noise, σ per channel. */
  noise?: { sigma: number };
  /** Fraction of pixels replaced by a random colour. */
  speckle?: { density: number };
  /** Levels per channel (uniform quantiser over [0, 1]). */
  quantize?: { levels: number };
};

/** How likely and how strong each part of a random degradation is. */
export type DegradeStrength = {
  pWarp: number;
  warpAmplitude: [number, number];
  pBlur: number;
  blurSigma: [number, number];
  pJitter: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  gain: number;
  pNoise: number;
  noiseSigma: [number, number];
  pSpeckle: number;
  speckleDensity: [number, number];
  pQuantize: number;
  levels: [number, number];
};

/**
 * The default mix, used for the judge's "degraded" numbers: σ_blur 0.5–1.2 px,
 * noise σ 0.02–0.08, brightness ±0.06, contrast/saturation ×(1±0.15), hue ±0.02 turn,
 * gain ×(1±0.06), 8–16 levels; every image gets at least one part.
 */
export const DEFAULT_STRENGTH: DegradeStrength = {
  pWarp: 0.4,
  warpAmplitude: [0.2, 0.6],
  pBlur: 0.6,
  blurSigma: [0.5, 1.2],
  pJitter: 0.6,
  brightness: 0.06,
  contrast: 0.15,
  saturation: 0.15,
  hue: 0.02,
  gain: 0.06,
  pNoise: 0.6,
  noiseSigma: [0.02, 0.08],
  pSpeckle: 0.2,
  speckleDensity: [0.002, 0.01],
  pQuantize: 0.4,
  levels: [8, 16],
};

/** Scale every probability and magnitude of `s` (k=0: nothing; k=1: `s`). Used for training curricula. */
export function scaleStrength(s: DegradeStrength, k: number): DegradeStrength {
  const p = (x: number) => Math.min(1, x * k);
  const r = (a: [number, number]): [number, number] => [a[0] * k, a[1] * k];
  return {
    ...s,
    pWarp: p(s.pWarp),
    warpAmplitude: r(s.warpAmplitude),
    pBlur: p(s.pBlur),
    blurSigma: r(s.blurSigma),
    pJitter: p(s.pJitter),
    brightness: s.brightness * k,
    contrast: s.contrast * k,
    saturation: s.saturation * k,
    hue: s.hue * k,
    gain: s.gain * k,
    pNoise: p(s.pNoise),
    noiseSigma: r(s.noiseSigma),
    pSpeckle: p(s.pSpeckle),
    speckleDensity: r(s.speckleDensity),
    pQuantize: p(s.pQuantize),
  };
}

/** Draw a random composition; at least one part is always present. */
export function sampleDegradation(
  rng: WorldRng,
  s: DegradeStrength = DEFAULT_STRENGTH,
): DegradeSpec {
  const u = (a: [number, number]) => rng.uniform(a[0], a[1]);
  const pm = (m: number) => rng.uniform(-m, m);
  const spec: DegradeSpec = {};
  // Draw every part's parameters unconditionally so the stream does not depend on
  // which parts were kept (the same seed gives the same blur with or without noise).
  const keep = [s.pWarp, s.pBlur, s.pJitter, s.pNoise, s.pSpeckle, s.pQuantize].map((p) =>
    rng.bool(p),
  );
  if (!keep.some(Boolean) && s.pBlur > 0) keep[rng.int(6)] = true;
  const warp = { amplitude: u(s.warpAmplitude), cells: 3 + rng.int(3) };
  const blur = { sigma: u(s.blurSigma) };
  const jitter: ColorJitter = {
    brightness: pm(s.brightness),
    contrast: 1 + pm(s.contrast),
    saturation: 1 + pm(s.saturation),
    hue: pm(s.hue),
    gain: [1 + pm(s.gain), 1 + pm(s.gain), 1 + pm(s.gain)],
  };
  const noise = { sigma: u(s.noiseSigma) };
  const speckle = { density: u(s.speckleDensity) };
  const quantize = { levels: s.levels[0] + rng.int(s.levels[1] - s.levels[0] + 1) };
  if (keep[0]) spec.warp = warp;
  if (keep[1]) spec.blur = blur;
  if (keep[2]) spec.jitter = jitter;
  if (keep[3]) spec.noise = noise;
  if (keep[4]) spec.speckle = speckle;
  if (keep[5]) spec.quantize = quantize;
  return spec;
}

/** Apply `spec` in the fixed order warp → blur → jitter → noise → speckle → quantize. */
export function applyDegradation(
  img: RgbImage,
  spec: DegradeSpec,
  seed: number | string = 0,
): RgbImage {
  const rng = WorldRng.fromParts("degrade", seed);
  const scale = img.width / 32;
  let out = img;
  if (spec.warp)
    out = warpImage(out, spec.warp.amplitude * scale, spec.warp.cells, rng.fork("warp"));
  if (spec.blur) out = gaussianBlur(out, spec.blur.sigma * scale);
  if (spec.jitter) out = colorJitter(out, spec.jitter);
  if (spec.noise) out = addNoise(out, spec.noise.sigma, rng.fork("noise"));
  if (spec.speckle) out = speckle(out, spec.speckle.density, rng.fork("speckle"));
  if (spec.quantize) out = quantize(out, spec.quantize.levels);
  return out === img ? { ...img, data: img.data.slice() } : out;
}

/** A random degradation of `img`: spec drawn from `rng`, randomness keyed by `rng` too. */
export function degrade(
  img: RgbImage,
  rng: WorldRng,
  s: DegradeStrength = DEFAULT_STRENGTH,
): { image: RgbImage; spec: DegradeSpec } {
  const spec = sampleDegradation(rng, s);
  return { image: applyDegradation(img, spec, rng.u32()), spec };
}

// --- the parts ------------------------------------------------------------------

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

function like(img: RgbImage, data: Float32Array): RgbImage {
  return { width: img.width, height: img.height, data };
}

/** Separable Gaussian blur (radius ⌈3σ⌉, edges clamped). */
export function gaussianBlur(img: RgbImage, sigma: number): RgbImage {
  if (!(sigma > 0)) return like(img, img.data.slice());
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const { width: W, height: H } = img;
  const pass = (src: Float32Array, horizontal: boolean) => {
    const dst = new Float32Array(src.length);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let a = 0;
        let b = 0;
        let c = 0;
        for (let i = -r; i <= r; i++) {
          const xx = horizontal ? Math.min(W - 1, Math.max(0, x + i)) : x;
          const yy = horizontal ? y : Math.min(H - 1, Math.max(0, y + i));
          const q = 3 * (yy * W + xx);
          const w = k[i + r];
          a += w * src[q];
          b += w * src[q + 1];
          c += w * src[q + 2];
        }
        const p = 3 * (y * W + x);
        dst[p] = a;
        dst[p + 1] = b;
        dst[p + 2] = c;
      }
    }
    return dst;
  };
  return like(img, pass(pass(img.data, true), false));
}

/** Standard normal from a WorldRng (Box–Muller). */
export function gaussian(rng: WorldRng): number {
  const u = 1 - rng.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
}

export function addNoise(img: RgbImage, sigma: number, rng: WorldRng): RgbImage {
  const d = new Float32Array(img.data.length);
  for (let i = 0; i < d.length; i++) d[i] = clamp01(img.data[i] + sigma * gaussian(rng));
  return like(img, d);
}

/** Brightness, contrast, saturation, hue (YIQ rotation) and per-channel gain, then clamp. */
export function colorJitter(img: RgbImage, j: ColorJitter): RgbImage {
  const n = img.width * img.height;
  const src = img.data;
  let meanY = 0;
  for (let p = 0; p < n; p++)
    meanY += 0.299 * src[3 * p] + 0.587 * src[3 * p + 1] + 0.114 * src[3 * p + 2];
  meanY /= n;
  const cos = Math.cos(2 * Math.PI * j.hue);
  const sin = Math.sin(2 * Math.PI * j.hue);
  const d = new Float32Array(src.length);
  for (let p = 0; p < n; p++) {
    const r = src[3 * p];
    const g = src[3 * p + 1];
    const b = src[3 * p + 2];
    // RGB → YIQ; saturation scales chroma, hue rotates it.
    let Y = 0.299 * r + 0.587 * g + 0.114 * b;
    const I0 = 0.596 * r - 0.274 * g - 0.322 * b;
    const Q0 = 0.211 * r - 0.523 * g + 0.312 * b;
    const I = j.saturation * (cos * I0 - sin * Q0);
    const Q = j.saturation * (sin * I0 + cos * Q0);
    Y = (Y - meanY) * j.contrast + meanY + j.brightness;
    const rr = Y + 0.956 * I + 0.621 * Q;
    const gg = Y - 0.272 * I - 0.647 * Q;
    const bb = Y - 1.106 * I + 1.703 * Q;
    d[3 * p] = clamp01(rr * j.gain[0]);
    d[3 * p + 1] = clamp01(gg * j.gain[1]);
    d[3 * p + 2] = clamp01(bb * j.gain[2]);
  }
  return like(img, d);
}

/** Uniform quantiser with `levels` values per channel (0 and 1 included). */
export function quantize(img: RgbImage, levels: number): RgbImage {
  const L = Math.max(2, Math.round(levels)) - 1;
  const d = new Float32Array(img.data.length);
  for (let i = 0; i < d.length; i++) d[i] = Math.round(clamp01(img.data[i]) * L) / L;
  return like(img, d);
}

/** Replace a `density` fraction of pixels by uniformly random colours. */
export function speckle(img: RgbImage, density: number, rng: WorldRng): RgbImage {
  const d = img.data.slice();
  const n = img.width * img.height;
  const k = Math.round(density * n);
  for (let i = 0; i < k; i++) {
    const p = rng.int(n);
    for (let c = 0; c < 3; c++) d[3 * p + c] = rng.float();
  }
  return like(img, d);
}

/** Bilinear sample of channel-interleaved data at (x, y) in pixel-centre coordinates, edges clamped. */
function bilinear(img: RgbImage, x: number, y: number, out: Float32Array, at: number): void {
  const { width: W, height: H, data } = img;
  const xc = Math.min(W - 1, Math.max(0, x));
  const yc = Math.min(H - 1, Math.max(0, y));
  const x0 = Math.min(W - 2, Math.floor(xc));
  const y0 = Math.min(H - 2, Math.floor(yc));
  const fx = xc - x0;
  const fy = yc - y0;
  for (let c = 0; c < 3; c++) {
    const a = data[3 * (y0 * W + x0) + c];
    const b = data[3 * (y0 * W + x0 + 1) + c];
    const e = data[3 * ((y0 + 1) * W + x0) + c];
    const f = data[3 * ((y0 + 1) * W + x0 + 1) + c];
    out[at + c] = (a * (1 - fx) + b * fx) * (1 - fy) + (e * (1 - fx) + f * fx) * fy;
  }
}

/**
 * Smooth random warp: a (cells+1)² grid of displacement vectors, N(0, amplitude²)
 * per axis, bilinearly interpolated over the image; the image is resampled at the
 * displaced positions. Shapes wobble by about `amplitude` pixels.
 */
export function warpImage(
  img: RgbImage,
  amplitude: number,
  cells: number,
  rng: WorldRng,
): RgbImage {
  const { width: W, height: H } = img;
  const g = cells + 1;
  const dx = Float32Array.from({ length: g * g }, () => amplitude * gaussian(rng));
  const dy = Float32Array.from({ length: g * g }, () => amplitude * gaussian(rng));
  const field = (f: Float32Array, u: number, v: number) => {
    const i = Math.min(cells - 1, Math.floor(u));
    const j = Math.min(cells - 1, Math.floor(v));
    const fu = u - i;
    const fv = v - j;
    const a = f[j * g + i];
    const b = f[j * g + i + 1];
    const c = f[(j + 1) * g + i];
    const d = f[(j + 1) * g + i + 1];
    return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv;
  };
  const out = new Float32Array(img.data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const u = (x / Math.max(1, W - 1)) * cells;
      const v = (y / Math.max(1, H - 1)) * cells;
      bilinear(img, x + field(dx, u, v), y + field(dy, u, v), out, 3 * (y * W + x));
    }
  }
  return like(img, out);
}
