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
  let fd: number | null = fs.openSync(tmp, 'wx', 0o644);
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

/** The temporary name's pattern: '.<name>.tmp-<pid>-<time>-<random>' (the pid says whose it is). */
const TEMP_RE = /^\..+\.tmp-(\d+)-\d+-\d+$/;

/** Whether process `pid` (on this host) has exited. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Deletes the temporary files in `dir` that writeFileAtomic calls of exited processes left (a kill -9
 * or a power cut between the write and the rename); a live process's are left alone. Returns their names.
 */
export function removeOrphanTemps(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (m === null || Number(m[1]) === process.pid || !processGone(Number(m[1]))) continue;
    try {
      if (fs.lstatSync(path.join(dir, name)).isFile()) {
        fs.rmSync(path.join(dir, name), { force: true });
        removed.push(name);
      }
    } catch {
      // Gone already (another process cleaned it): nothing to do.
    }
  }
  return removed;
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
