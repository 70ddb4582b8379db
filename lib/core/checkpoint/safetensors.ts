// The safetensors file format (https://github.com/huggingface/safetensors), read and written by hand:
//   8 bytes   N, the header length, unsigned little-endian 64-bit
//   N bytes   JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                    "__metadata__": {"key": "string value"}}
//   the rest  raw little-endian tensor bytes; offsets count from the first byte after the header.
// The format holds only data, never code, which is why checkpoints use it. The decoder trusts nothing
// in the file: every field is checked before a byte is read, and a bad file is refused with an error
// that names the file and the tensor.

/** Element types of the format and their sizes in bytes. */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** The dtypes this course writes (tfjs holds float32, int32 and bool/uint8 data). */
export type WritableDtype = 'F32' | 'I32' | 'U8';

export interface SafeTensorInput {
  dtype: WritableDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

export interface SafeTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** The tensor's raw bytes (a view into the file's buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  /** Tensors in file order. */
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Headers larger than this are refused (the reference implementation's limit), so a hostile N cannot make us allocate gigabytes. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

function isDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, d);
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fail(source: string, what: string): never {
  throw new Error(`safetensors ${source}: ${what}`);
}

/** Encodes tensors (in the given order) and string metadata as one safetensors buffer. */
export function encodeSafetensors(
  tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>,
  metadata: Record<string, string> = {},
): Buffer {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new Error(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
  }
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new Error(`safetensors: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (!isDtype(t.dtype) || !['F32', 'I32', 'U8'].includes(t.dtype))
      throw new Error(
        `safetensors: tensor '${name}' has unsupported dtype '${String(t.dtype)}' (write F32, I32 or U8)`,
      );
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new Error(`safetensors: tensor '${name}' has a bad shape [${t.shape}]`);
    const expected = numel(t.shape);
    if (t.data.length !== expected)
      throw new Error(`safetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape}] (${expected})`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (bytes.length !== expected * DTYPE_BYTES[t.dtype])
      throw new Error(`safetensors: tensor '${name}' data does not match dtype ${t.dtype}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  if (!littleEndian()) throw new Error('safetensors: this machine is big-endian; the format is little-endian');
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (as the reference writer does); JSON allows trailing spaces.
  const raw = Buffer.from(json, 'utf8');
  const pad = (8 - ((8 + raw.length) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/**
 * Parses and validates a safetensors buffer. Refused: a header length beyond the file or over
 * MAX_HEADER_BYTES, a header that is not a JSON object, an unknown dtype, a bad shape, offsets out of
 * range, not matching dtype x shape, overlapping, or leaving bytes no tensor owns, non-string metadata.
 */
export function decodeSafetensors(buf: Uint8Array, source = '<buffer>'): SafetensorsFile {
  if (buf.length < 8) fail(source, `file is ${buf.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(buf.length - 8)) fail(source, `header length ${n64} is beyond the file size (${buf.length} bytes)`);
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) fail(source, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n < 2) fail(source, `header length ${n} is too short for a JSON object`);
  const text = Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8');
  if (!text.startsWith('{')) fail(source, `header does not start with '{'`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    fail(source, 'header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
        fail(source, `'${METADATA_KEY}' is not an object`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(source, `metadata '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      fail(source, `tensor '${name}': entry is not an object`);
    const e = entry as Record<string, unknown>;
    if (!isDtype(e.dtype)) fail(source, `tensor '${name}': unknown dtype '${String(e.dtype)}'`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `tensor '${name}': data_offsets ${JSON.stringify(off)} is not two non-negative integers`);
    }
    const [begin, end] = off as number[];
    if (begin > end) fail(source, `tensor '${name}': data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen)
      fail(
        source,
        `tensor '${name}': data_offsets [${begin}, ${end}] are out of range (data section is ${dataLen} bytes)`,
      );
    const want = numel(shape as number[]) * DTYPE_BYTES[e.dtype];
    if (end - begin !== want) {
      fail(
        source,
        `tensor '${name}': data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${e.dtype} x [${shape}] needs ${want}`,
      );
    }
    spans.push({ name, begin, end });
    tensors.set(name, {
      name,
      dtype: e.dtype,
      shape: [...(shape as number[])],
      bytes: buf.subarray(dataStart + begin, dataStart + end),
    });
  }
  // No overlaps and no holes: every data byte belongs to exactly one tensor (the reference rule,
  // which also stops a file from hiding a second payload).
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev = '';
  for (const s of spans) {
    if (s.begin < cursor)
      fail(source, `tensor '${s.name}': data_offsets [${s.begin}, ${s.end}] overlap tensor '${prev}'`);
    if (s.begin > cursor)
      fail(source, `tensor '${s.name}': bytes [${cursor}, ${s.begin}) before it belong to no tensor`);
    cursor = s.end;
    prev = s.name;
  }
  if (cursor !== dataLen) fail(source, `bytes [${cursor}, ${dataLen}) at the end of the data belong to no tensor`);
  return { tensors, metadata };
}

/** A tensor's values as float32 (F32, F16, BF16, F64, integer types) for loading into a model. */
export function toFloat32(t: SafeTensor): Float32Array {
  const n = numel(t.shape);
  // Copy into an aligned buffer: the view into the file need not be 4-byte aligned.
  const copy = new Uint8Array(t.bytes);
  const dv = new DataView(copy.buffer);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      return out;
    case 'BF16': {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, dv.getUint16(2 * i, true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      return out;
    }
    default: {
      const ints = toInt32OrNull(t, dv, n);
      if (ints === null)
        throw new Error(`safetensors: tensor '${t.name}' has dtype ${t.dtype}, which cannot be read as float32`);
      return Float32Array.from(ints);
    }
  }
}

/** A tensor's values as int32 (integer and bool dtypes only; 64-bit values must fit in 32 bits). */
export function toInt32(t: SafeTensor): Int32Array {
  const n = numel(t.shape);
  const copy = new Uint8Array(t.bytes);
  const out = toInt32OrNull(t, new DataView(copy.buffer), n);
  if (out === null) throw new Error(`safetensors: tensor '${t.name}' has dtype ${t.dtype}, not an integer type`);
  return out;
}

function toInt32OrNull(t: SafeTensor, dv: DataView, n: number): Int32Array | null {
  const out = new Int32Array(n);
  const get: ((i: number) => number | bigint) | null =
    t.dtype === 'I32'
      ? (i) => dv.getInt32(4 * i, true)
      : t.dtype === 'U32'
        ? (i) => dv.getUint32(4 * i, true)
        : t.dtype === 'I16'
          ? (i) => dv.getInt16(2 * i, true)
          : t.dtype === 'U16'
            ? (i) => dv.getUint16(2 * i, true)
            : t.dtype === 'I8'
              ? (i) => dv.getInt8(i)
              : t.dtype === 'U8' || t.dtype === 'BOOL'
                ? (i) => dv.getUint8(i)
                : t.dtype === 'I64'
                  ? (i) => dv.getBigInt64(8 * i, true)
                  : t.dtype === 'U64'
                    ? (i) => dv.getBigUint64(8 * i, true)
                    : null;
  if (get === null) return null;
  for (let i = 0; i < n; i++) {
    const v = get(i);
    const num = typeof v === 'bigint' ? Number(v) : v;
    if (num > 2147483647 || num < -2147483648)
      throw new Error(`safetensors: tensor '${t.name}' value ${v} at index ${i} does not fit in int32`);
    out[i] = num;
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
