/**
 * safetensors read/write (https://github.com/huggingface/safetensors, "Format").
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {str: str}}`,
 * then the tensors' raw little-endian bytes, back to back.
 *
 * Only the dtypes reca produces are supported: F32 (training), I32 (integer
 * leaves such as step counters) and F16 (export for the browser; decoded to f32).
 * The reader trusts nothing in the file: every offset and size is checked
 * before any tensor memory is allocated.
 */
import { readFileSync } from "node:fs";
import { atomicWriteFile } from "../util/fsutil.ts";
import {
  assertSameStructure,
  fromHost,
  type HostTensor,
  type ParamTree,
  toHost,
  treeDispose,
} from "./tree.ts";

export type SafetensorsDtype = "F32" | "F16" | "I32";
export type SafeTensor = {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
};
export type SafetensorsFile = {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
};

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, I32: 4 };
/** Real headers are kilobytes; anything past this is a corrupt or hostile length field. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

// Typed arrays use host byte order and the format is little-endian; every
// platform Node runs reca on is little-endian, so refuse rather than swap bytes.
const HOST_IS_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function assertLittleEndianHost(): void {
  if (!HOST_IS_LE) throw new SafetensorsError("big-endian hosts are not supported");
}

const product = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);

// --- f16 <-> f32 (Node 20 has no Float16Array) ------------------------------

/** IEEE binary32 bits → binary16 bits, round-to-nearest-even. */
export function f32BitsToF16(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf / quiet NaN
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large even before rounding
  if (e <= 0) {
    // Half subnormal: value = m · 2^-24, m = significand >> shift.
    const shift = 14 - e;
    if (shift > 24) return sign; // below half the smallest subnormal: rounds to ±0
    const full = mant | 0x800000;
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && m & 1)) m++; // may carry into the smallest normal: correct
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and from 0x1e to inf: both correct.
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return h;
}

/** binary16 bits → number (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

// --- encode -----------------------------------------------------------------

function tensorBytes(name: string, t: SafeTensor): Uint8Array {
  const n = product(t.shape);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new SafetensorsError(`tensor "${name}": bad shape [${t.shape}]`);
  if (t.data.length !== n)
    throw new SafetensorsError(
      `tensor "${name}": ${t.data.length} values for shape [${t.shape}] (${n})`,
    );
  const wantInt = t.dtype === "I32";
  if (!(wantInt ? t.data instanceof Int32Array : t.data instanceof Float32Array))
    throw new SafetensorsError(
      `tensor "${name}": dtype ${t.dtype} needs ${wantInt ? "Int32Array" : "Float32Array"} data`,
    );
  if (t.dtype === "F16") {
    const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, n);
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = f32BitsToF16(bits[i]);
    return new Uint8Array(out.buffer);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Serialise tensors (in map order) and optional string metadata to safetensors bytes. */
export function encodeSafetensors(
  tensors: Map<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  assertLittleEndianHost();
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== "string") throw new SafetensorsError(`metadata "${k}" is not a string`);
  // Built by hand, not JSON.stringify(obj): object key order puts integer-like
  // names first, and the header should list tensors in data order.
  const entries = [`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "" || name === METADATA_KEY)
      throw new SafetensorsError(`bad tensor name "${name}"`);
    if (!(t.dtype in BYTES))
      throw new SafetensorsError(`tensor "${name}": unknown dtype ${t.dtype}`);
    const bytes = tensorBytes(name, t);
    const info = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + bytes.byteLength],
    };
    entries.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const json = new TextEncoder().encode(`{${entries.join(",")}}`);
  // Pad with spaces (valid JSON whitespace) so the data starts 8-byte aligned,
  // which lets readers view tensors in place.
  const headerLen = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

// --- decode -----------------------------------------------------------------

type Slot = { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number };

function parseHeader(bytes: Uint8Array): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.byteLength < 8)
    throw new SafetensorsError(
      `file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`,
    );
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  // Both checks happen on the BigInt, before anything is sliced or decoded.
  if (n > BigInt(bytes.byteLength - 8))
    throw new SafetensorsError(
      `header length ${n} runs past the end of the ${bytes.byteLength}-byte file`,
    );
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    throw new SafetensorsError("header is not a JSON object");
  return { header: header as Record<string, unknown>, dataStart: 8 + headerLen };
}

function parseMetadata(raw: unknown): Record<string, string> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new SafetensorsError("__metadata__ is not an object");
  for (const [k, v] of Object.entries(raw))
    if (typeof v !== "string") throw new SafetensorsError(`__metadata__ "${k}" is not a string`);
  return { ...(raw as Record<string, string>) };
}

function parseSlot(name: string, raw: unknown, dataLen: number): Slot {
  const where = `tensor "${name}"`;
  if (typeof raw !== "object" || raw === null)
    throw new SafetensorsError(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
  if (typeof dtype !== "string" || !Object.hasOwn(BYTES, dtype))
    throw new SafetensorsError(`${where}: unknown or unsupported dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new SafetensorsError(
      `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
    );
  if (
    !Array.isArray(offs) ||
    offs.length !== 2 ||
    !offs.every((o) => Number.isSafeInteger(o) && o >= 0)
  )
    throw new SafetensorsError(
      `${where}: data_offsets ${JSON.stringify(offs)} are not two non-negative integers`,
    );
  const [begin, end] = offs as [number, number];
  if (begin > end)
    throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] run backwards`);
  const want = product(shape) * BYTES[dtype as SafetensorsDtype];
  if (end - begin !== want)
    throw new SafetensorsError(
      `${where}: ${end - begin} bytes but ${dtype} [${shape}] needs ${want}`,
    );
  if (end > dataLen)
    throw new SafetensorsError(
      `${where}: data_offsets [${begin}, ${end}] exceed the ${dataLen}-byte data section`,
    );
  return { name, dtype: dtype as SafetensorsDtype, shape: [...shape], begin, end };
}

/** Parse and fully validate safetensors bytes. F16 tensors come back as Float32Array. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  assertLittleEndianHost();
  const { header, dataStart } = parseHeader(bytes);
  const dataLen = bytes.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const slots: Slot[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(raw);
    else slots.push(parseSlot(name, raw, dataLen));
  }
  // Contiguity in offset order: no overlaps, no gaps, no trailing bytes. This is
  // what the reference implementation demands, and it rules out aliasing tricks.
  slots.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of slots) {
    if (s.begin !== cursor)
      throw new SafetensorsError(
        s.begin < cursor
          ? `tensor "${s.name}" overlaps the previous tensor (starts at ${s.begin}, previous ends at ${cursor})`
          : `gap in the data section before tensor "${s.name}" (bytes ${cursor}..${s.begin})`,
      );
    cursor = s.end;
  }
  if (cursor !== dataLen)
    throw new SafetensorsError(`data section is ${dataLen} bytes but tensors cover ${cursor}`);

  const tensors = new Map<string, SafeTensor>();
  for (const s of slots) {
    // Copy into a fresh, offset-0 buffer: `bytes` may be a Node Buffer view into a
    // shared pool, and its offset need not be 4-byte aligned for Float32Array.
    const own = new Uint8Array(s.end - s.begin);
    own.set(bytes.subarray(dataStart + s.begin, dataStart + s.end));
    let data: Float32Array | Int32Array;
    if (s.dtype === "I32") data = new Int32Array(own.buffer);
    else if (s.dtype === "F32") data = new Float32Array(own.buffer);
    else data = Float32Array.from(new Uint16Array(own.buffer), f16BitsToF32);
    tensors.set(s.name, { dtype: s.dtype, shape: s.shape, data });
  }
  return { tensors, metadata };
}

// --- files ------------------------------------------------------------------

/** Write atomically (temp file, fsync, rename). */
export function writeSafetensorsFile(
  path: string,
  tensors: Map<string, SafeTensor>,
  metadata?: Record<string, string>,
): void {
  atomicWriteFile(path, encodeSafetensors(tensors, metadata));
}

/** Read and validate a file; format errors name the file. */
export function readSafetensorsFile(path: string): SafetensorsFile {
  const bytes = readFileSync(path);
  try {
    return decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError)
      throw new SafetensorsError(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

// --- parameter trees ----------------------------------------------------------

/**
 * Host copies of a tree's leaves under their dotted names. Float leaves get
 * `dtype` (F32, or F16 for export); integer leaves stay I32. Does not consume.
 */
export async function treeToTensors(
  params: ParamTree,
  dtype: "F32" | "F16" = "F32",
): Promise<Map<string, SafeTensor>> {
  const out = new Map<string, SafeTensor>();
  for (const [name, { shape, data }] of await toHost(params))
    out.set(name, { dtype: data instanceof Int32Array ? "I32" : dtype, shape, data });
  return out;
}

/**
 * Device tree from tensors (f32, or int32 for I32). With `expected`, names and
 * shapes must match it exactly; on mismatch nothing is left allocated.
 */
export function tensorsToTree(
  tensors: Map<string, SafeTensor>,
  expected?: ParamTree,
  what = "tensors",
): ParamTree {
  const host = new Map<string, HostTensor>();
  for (const [name, { shape, data }] of tensors) host.set(name, { shape, data });
  const tree = fromHost(host);
  if (expected) {
    try {
      assertSameStructure(expected, tree, what);
    } catch (e) {
      treeDispose(tree);
      throw e;
    }
  }
  return tree;
}
