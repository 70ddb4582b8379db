// Reading a file the user named: only a regular file is read, and never more bytes than it had when
// opened. A directory, a device such as /dev/zero (endless), a FIFO (blocks until a writer comes) or a
// socket is refused with one line naming what it is, so a mistyped path never hangs or fills memory.
import * as fs from 'fs';

/** What a non-regular file is, in words ('a directory', 'a FIFO', ...). */
export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Throws `${what} ${file}: ...` unless `file` is an existing regular file (symlinks followed). */
export function checkRegularFile(file: string, what: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${what} ${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code})`}`);
  }
  if (!st.isFile()) throw new Error(`${what} ${file}: is ${fileKind(st)}, not a regular file`);
  return st;
}

/**
 * The bytes of the regular file `file`, read through one descriptor: opened without blocking (a FIFO
 * swapped in after the check cannot hang the open), checked regular on that descriptor, and read up to
 * the size it had then. `maxBytes` refuses a larger file before anything is allocated.
 */
export function readRegularFile(file: string, what: string, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  checkRegularFile(file, what);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${what} ${file}: is ${fileKind(st)}, not a regular file`);
    if (st.size > maxBytes) throw new Error(`${what} ${file}: is ${st.size} bytes, more than the ${maxBytes} expected`);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = fs.readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break; // the file shrank while being read: the decoder sees the short buffer
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}

/** A JSON file's value, read as a regular file; invalid JSON is an error naming the file. */
export function readJsonFile(file: string, what: string, maxBytes = 64 * 1024 * 1024): unknown {
  const text = readRegularFile(file, what, maxBytes).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} ${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** `obj[key]` checked to be of `type` ('string', 'number', 'object'), else an error naming the file and key. */
export function jsonField<T>(file: string, obj: unknown, key: string, type: 'string' | 'number' | 'object'): T {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw new Error(`${file}: expected a JSON object, got ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  const v = (obj as Record<string, unknown>)[key];
  const ok = type === 'object' ? v !== null && typeof v === 'object' && !Array.isArray(v) : typeof v === type;
  if (!ok || (type === 'number' && !Number.isFinite(v)))
    throw new Error(
      `${file}: key '${key}' ${v === undefined ? 'is missing' : `is ${JSON.stringify(v)}`}, ` +
        `expected ${type === 'object' ? 'an object' : `a ${type}`}`,
    );
  return v as T;
}
