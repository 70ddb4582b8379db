// NumPy's .npy format (version 1.0), so samples and data cross to Python and back without a
// converter: a magic string, a header dict (dtype, order, shape) padded to 64 bytes, raw data.
// Only what the course exchanges: little-endian float32 and uint8, C order.
import * as fs from 'fs';
import { writeFileAtomic } from '../core/checkpoint/atomic_write';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const DTYPES = { float32: '<f4', uint8: '|u1' } as const;
export type NpyDtype = keyof typeof DTYPES;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | Uint8Array;
}

function checkShape(shape: number[], length: number, who: string): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new Error(`${who}: shape [${shape}] must hold non-negative integers`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== length) throw new Error(`${who}: shape [${shape}] holds ${n} values, the data ${length}`);
}

/** The bytes of an .npy file holding `data` with `shape`. */
export function encodeNpy(data: Float32Array | Uint8Array, shape: number[]): Buffer {
  checkShape(shape, data.length, 'encodeNpy');
  const dtype: NpyDtype = data instanceof Float32Array ? 'float32' : 'uint8';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DTYPES[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64 (the format's rule).
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

/** Writes an .npy file atomically (no half-written file on a crash). */
export function writeNpy(file: string, data: Float32Array | Uint8Array, shape: number[]): void {
  writeFileAtomic(file, encodeNpy(data, shape));
}

/** Reads an .npy file of float32 or uint8 (C order, little-endian); anything else is a clear error. */
export function readNpy(file: string): NpyArray {
  const st = fs.statSync(file);
  if (!st.isFile()) throw new Error(`readNpy: ${file} is not a regular file`);
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC))
    throw new Error(`readNpy: ${file} is not an .npy file (no NUMPY magic)`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (start + hlen > buf.length) throw new Error(`readNpy: ${file} is truncated in its header`);
  const header = buf.subarray(start, start + hlen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new Error(`readNpy: ${file} has an unreadable header: ${header.trim()}`);
  if (fortran === 'True') throw new Error(`readNpy: ${file} is in Fortran order; save it C-ordered`);
  const dtype = (Object.keys(DTYPES) as NpyDtype[]).find(
    (k) => DTYPES[k] === descr || (k === 'uint8' && descr === '<u1'),
  );
  if (!dtype) throw new Error(`readNpy: ${file} holds dtype '${descr}'; only float32 ('<f4') and uint8 are read`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = n * (dtype === 'float32' ? 4 : 1);
  const at = start + hlen;
  if (buf.length - at !== bytes)
    throw new Error(
      `readNpy: ${file} should hold ${bytes} data bytes for shape [${shape}], it holds ${buf.length - at}`,
    );
  const copy = new Uint8Array(buf.subarray(at, at + bytes)); // aligned, owned
  const data = dtype === 'float32' ? new Float32Array(copy.buffer) : copy;
  return { dtype, shape, data };
}
