// Writes a file so that a crash or a kill never leaves a half-written one under the real name:
// write a temporary file in the same folder, fsync it, rename it over the target (atomic on POSIX
// file systems), then fsync the folder so the rename itself survives a power cut.
import * as fs from 'fs';
import * as path from 'path';

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`,
  );
  let fd: number | null = fs.openSync(tmp, 'w', 0o644);
  try {
    let off = 0;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems (and Windows) cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}
