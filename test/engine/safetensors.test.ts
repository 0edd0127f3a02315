import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { safetensors as loaders } from "@jax-js/loaders";
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, numpy as np } from "../../src/engine/jax.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  f16BitsToF32,
  f32BitsToF16,
  readSafetensorsFile,
  type SafeTensor,
  SafetensorsError,
  tensorsToTree,
  treeToTensors,
  writeSafetensorsFile,
} from "../../src/engine/safetensors.ts";
import { namedLeaves, type ParamTree, treeDispose } from "../../src/engine/tree.ts";

const f32 = (shape: number[], values: number[]): SafeTensor => ({
  dtype: "F32",
  shape,
  data: Float32Array.from(values),
});

function sample(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ["blocks.0.w", f32([2, 3], [1.5, -2, 3.25, 1e-30, -0, 7e37])],
    ["step", { dtype: "I32", shape: [], data: Int32Array.of(-123456789) }],
    ["blocks.1.b", f32([3], [0.1, Number.NaN, Number.NEGATIVE_INFINITY])],
    ["ids", { dtype: "I32", shape: [2, 2], data: Int32Array.of(0, 2147483647, -2147483648, 5) }],
  ]);
}

const f16 = (x: number): number => f32BitsToF16(new Uint32Array(Float32Array.of(x).buffer)[0]);

/** Hand-built file: header (object, JSON text or raw bytes) + data, optionally a lying length field. */
function craft(header: unknown, data = new Uint8Array(0), lengthField?: bigint): Uint8Array {
  const json =
    header instanceof Uint8Array
      ? header
      : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("safetensors encode/decode", () => {
  it("round-trips F32 and I32 exactly, in order, with metadata", () => {
    const tensors = sample();
    const { tensors: back, metadata } = decodeSafetensors(
      encodeSafetensors(tensors, { a: "1", note: "héllo" }),
    );
    expect([...back.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const b = back.get(name)!;
      expect(b.dtype).toBe(t.dtype);
      expect(b.shape).toEqual(t.shape);
      expect(b.data.constructor).toBe(t.data.constructor);
      expect(Array.from(b.data)).toEqual(Array.from(t.data));
    }
    expect(metadata).toEqual({ a: "1", note: "héllo" });
    expect(Object.is(back.get("blocks.0.w")!.data[4], -0)).toBe(true);
  });

  it("lays out header length, padding and data as the spec says", () => {
    const bytes = encodeSafetensors(sample(), { k: "v" });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.__metadata__).toEqual({ k: "v" });
    expect(header["blocks.0.w"]).toEqual({ dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
    expect(header.step.data_offsets).toEqual([24, 28]);
    expect(bytes.length).toBe(8 + n + 24 + 4 + 12 + 16);
    expect(new DataView(bytes.buffer).getFloat32(8 + n, true)).toBe(1.5);
    // An empty map is still a valid file with (empty) metadata.
    expect(decodeSafetensors(encodeSafetensors(new Map())).tensors.size).toBe(0);
  });

  it("decodes from an unaligned Node Buffer view", () => {
    const bytes = encodeSafetensors(sample());
    const pool = Buffer.alloc(bytes.length + 3);
    pool.set(bytes, 3);
    const view = pool.subarray(3);
    const back = decodeSafetensors(view).tensors.get("blocks.0.w")!;
    expect(back.data.byteOffset).toBe(0);
    expect(back.data[0]).toBe(1.5);
  });

  it("converts f32 to f16 bit patterns with round-to-nearest-even", () => {
    expect(f16(1)).toBe(0x3c00);
    expect(f16(-2)).toBe(0xc000);
    expect(f16(65504)).toBe(0x7bff);
    expect(f16(65519)).toBe(0x7bff); // just below the tie: stays finite
    expect(f16(65520)).toBe(0x7c00); // tie rounds to even → inf
    expect(f16(1e6)).toBe(0x7c00);
    expect(f16(-1e6)).toBe(0xfc00);
    expect(f16(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(f16(6e-8)).toBe(0x0001); // smallest subnormal 2^-24
    expect(f16(2 ** -25)).toBe(0x0000); // exact tie with 0 → even (0)
    expect(f16(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f16(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f16(2 ** -14 - 2 ** -25)).toBe(0x0400); // subnormal rounding carries into normal
    expect(f16(1 + 2 ** -11)).toBe(0x3c00); // tie, even mantissa stays
    expect(f16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd mantissa rounds up
    expect(f16(-0)).toBe(0x8000);
    expect(f16(1e-30)).toBe(0);
    const nan = f16(Number.NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
  });

  it("maps every non-NaN half back to itself through f32", () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN payloads need not survive
      if (f16(f16BitsToF32(h)) !== h)
        throw new Error(`half 0x${h.toString(16)} does not round-trip`);
    }
  });

  it("round-trips F16 within half precision", () => {
    const values = Array.from({ length: 200 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
    const t: SafeTensor = { dtype: "F16", shape: [200], data: Float32Array.from(values) };
    const bytes = encodeSafetensors(new Map([["x", t]]));
    const back = decodeSafetensors(bytes).tensors.get("x")!;
    expect(back.dtype).toBe("F16");
    expect(back.data).toBeInstanceOf(Float32Array);
    values.forEach((v, i) => {
      // Relative error 2^-11 for normals, absolute 2^-25 in the subnormal range.
      expect(Math.abs(back.data[i] - v)).toBeLessThanOrEqual(
        Math.max(Math.abs(v) * 2 ** -11, 2 ** -25),
      );
    });
  });

  it("rejects inconsistent input on encode", () => {
    const bad = (t: SafeTensor) => () => encodeSafetensors(new Map([["x", t]]));
    expect(bad(f32([2, 2], [1, 2, 3]))).toThrow(SafetensorsError);
    expect(bad({ dtype: "I32", shape: [1], data: Float32Array.of(1) })).toThrow(SafetensorsError);
    expect(bad({ dtype: "BF16" as "F32", shape: [1], data: Float32Array.of(1) })).toThrow(
      SafetensorsError,
    );
  });
});

describe("safetensors rejects malformed files", () => {
  const ok = { x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated file", new Uint8Array(5), /shorter than/],
    ["header length beyond file", craft(ok, eight, 1000n), /past the end/],
    ["header length 2^50", craft(ok, eight, 2n ** 50n), /past the end/],
    ["header length 2^64-1", craft(ok, eight, 2n ** 64n - 1n), /past the end/],
    ["bad JSON", craft('{"x": {', eight), /not valid UTF-8 JSON/],
    ["invalid UTF-8", craft(Uint8Array.of(0x7b, 0xff, 0x7d), eight), /not valid UTF-8 JSON/],
    ["header not an object", craft([1, 2], eight), /not a JSON object/],
    [
      "unknown dtype",
      craft({ x: { ...ok.x, dtype: "Q4" } }, eight),
      /unknown or unsupported dtype/,
    ],
    ["negative shape", craft({ x: { ...ok.x, shape: [-2] } }, eight), /non-negative integers/],
    ["fractional shape", craft({ x: { ...ok.x, shape: [1.5] } }, eight), /non-negative integers/],
    ["offsets not a pair", craft({ x: { ...ok.x, data_offsets: [0] } }, eight), /two non-negative/],
    ["offsets backwards", craft({ x: { ...ok.x, data_offsets: [8, 0] } }, eight), /backwards/],
    ["dtype/shape mismatch", craft({ x: { ...ok.x, shape: [3] } }, eight), /needs 12/],
    ["offsets out of bounds", craft({ x: { ...ok.x, data_offsets: [4, 12] } }, eight), /exceed/],
    [
      "overlapping tensors",
      craft({ x: ok.x, y: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, eight),
      /overlaps/,
    ],
    [
      "gap between tensors",
      craft(
        { x: { ...ok.x, shape: [1], data_offsets: [0, 4] }, y: { ...ok.x, data_offsets: [8, 16] } },
        new Uint8Array(16),
      ),
      /gap/,
    ],
    ["trailing bytes", craft(ok, new Uint8Array(12)), /cover 8/],
    ["metadata not strings", craft({ ...ok, __metadata__: { n: 1 } }, eight), /not a string/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      expect(() => decodeSafetensors(bytes)).toThrow(SafetensorsError);
      expect(() => decodeSafetensors(bytes)).toThrow(message);
    });
  }

  it("header length over the 100 MB limit, even inside the file", () => {
    const bytes = new Uint8Array(100_000_016); // zero pages: cheap to allocate
    new DataView(bytes.buffer).setBigUint64(0, 100_000_001n, true);
    expect(() => decodeSafetensors(bytes)).toThrow(/exceeds the 100000000-byte limit/);
  });

  it("names the file in read errors", () => {
    const path = join(mkdtempSync(join(tmpdir(), "reca-st-")), "bad.safetensors");
    writeFileSync(path, new Uint8Array(3));
    expect(() => readSafetensorsFile(path)).toThrow(/bad\.safetensors: file is 3 bytes/);
  });
});

describe("safetensors interop and trees", () => {
  beforeAll(async () => {
    await initEngine();
  });

  it("writes files that @jax-js/loaders parses to equal values (F32, I32)", () => {
    const path = join(mkdtempSync(join(tmpdir(), "reca-st-")), "m.safetensors");
    const tensors = sample();
    writeSafetensorsFile(path, tensors, { who: "reca" });
    const bytes = new Uint8Array(readFileSync(path));
    const parsed = loaders.parse(bytes);
    expect(parsed.metadata).toEqual({ who: "reca" });
    expect(Object.keys(parsed.tensors)).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      expect(parsed.tensors[name].dtype).toBe(t.dtype);
      expect(parsed.tensors[name].shape).toEqual(t.shape);
      expect(Array.from(parsed.tensors[name].data as Float32Array)).toEqual(Array.from(t.data));
    }
    expect(readSafetensorsFile(path).tensors.get("ids")!.data).toEqual(tensors.get("ids")!.data);
  });

  // The loader builds F16 tensors with `new Float16Array(...)`; Node 20 has none
  // (node-setup installs an empty stub), so only check the value-free part there.
  it("F16 files parse in @jax-js/loaders (header level on Node 20)", () => {
    const t: SafeTensor = { dtype: "F16", shape: [3], data: Float32Array.of(1, -0.5, 65504) };
    const parsed = loaders.parse(encodeSafetensors(new Map([["h", t]])) as Uint8Array<ArrayBuffer>);
    expect(parsed.tensors.h.dtype).toBe("F16");
    expect(parsed.tensors.h.shape).toEqual([3]);
  });

  it("goes between parameter trees and tensors", async () => {
    const params: ParamTree = {
      blocks: [
        {
          w: np.array([
            [1, 2],
            [3, 4],
          ]),
        },
        {
          w: np.array([
            [5, 6],
            [7, 8],
          ]),
        },
      ],
      count: np.array([3], { dtype: np.int32 }),
    };
    const tensors = await treeToTensors(params);
    expect([...tensors.keys()]).toEqual(["blocks.0.w", "blocks.1.w", "count"]);
    expect(tensors.get("count")!.dtype).toBe("I32");
    expect((await treeToTensors(params, "F16")).get("blocks.0.w")!.dtype).toBe("F16");
    const back = tensorsToTree(tensors, params);
    const leaves = namedLeaves(back);
    expect(leaves.map(([n]) => n)).toEqual(["blocks.0.w", "blocks.1.w", "count"]);
    expect(Array.from(await leaves[1][1].ref.data())).toEqual([5, 6, 7, 8]);
    tensors.delete("count");
    expect(() => tensorsToTree(tensors, params)).toThrow(/"count" is missing/);
    treeDispose(back);
    treeDispose(params);
  });
});
