// One training per output folder. Two runs writing the same checkpoints would each delete the other's
// (keepLast) and resume from a mix, so a training takes a lock file in its folder, created exclusively
// (O_EXCL: of two starting at once exactly one wins) and holding its PID, host and start time. A
// second training into the folder refuses to start, naming the holder. A lock whose process is provably
// gone (same host, its PID no longer runs or now belongs to a newer process: kill -9, a crash, a restarted
// kernel) is taken over, saying so; two runs taking over at once race through a second exclusive file
// ('.takeover'), so still exactly one wins. A lock whose holder cannot be checked (another host, an
// unreadable file) is reported with the command that clears it. Taking the lock also removes the temporary files of atomic writes that dead
// processes left behind (atomic_write.ts), so an interrupted write leaves nothing after the next start.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { removeOrphanTemps } from '../checkpoint/atomic_write';
import { ctrlCStopsTraining } from '../cancel';
import { inKernel } from '../kernel_display';

export const LOCK_NAME = '.training.lock';

export interface LockInfo {
  pid: number;
  host: string;
  /** When the holding process started (ISO 8601). */
  started: string;
  /** Linux: the process's start time in clock ticks (/proc/PID/stat), so a reused PID is not taken for the holder. */
  procStart: string | null;
  /** What holds it (e.g. 'LossTrainer'). */
  who: string;
}

/** Thrown when the folder is locked by another run, or by a dead one (then `stale`). */
export class RunLockError extends Error {
  constructor(
    message: string,
    readonly lockFile: string,
    readonly holder: LockInfo | null,
    readonly stale: boolean,
  ) {
    super(message);
    this.name = 'RunLockError';
  }
}

/** The start time of process `pid` in clock ticks since boot (Linux), or null where unknown. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the ')' that ends the command name (which may itself hold spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote `info` still runs: null when that cannot be told (another host). */
export function holderAlive(info: LockInfo): boolean | null {
  if (info.host !== os.hostname()) return null;
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  // The PID runs, but it may be a new process that reused it: compare start times where known.
  const now = processStartTicks(info.pid);
  return info.procStart === null || now === null || now === info.procStart;
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    return Number.isSafeInteger(v.pid) && typeof v.host === 'string' ? v : null;
  } catch {
    return null; // half-written or not ours: treated as a lock of unknown holder
  }
}

function describe(info: LockInfo): string {
  return `process ${info.pid} on ${info.host} (${info.who}, started ${info.started})`;
}

/** Refuses (RunLockError) when a training other than this process holds `dir`; returns the holder otherwise. */
export function checkUnlocked(dir: string, action = 'train into it'): void {
  const file = path.join(dir, LOCK_NAME);
  if (!fs.existsSync(file)) return;
  const info = readLock(file);
  if (info !== null && info.pid === process.pid && info.host === os.hostname() && held.has(path.resolve(file))) return;
  if (info !== null && holderAlive(info) === false) return; // a dead run's lock: nobody uses the folder
  throw lockError(file, info, action);
}

function lockError(file: string, info: LockInfo | null, action: string): RunLockError {
  const dir = path.dirname(file);
  if (info === null)
    return new RunLockError(
      `${dir} is locked by ${file}, which names no process; ` +
        `if no training uses this folder, delete the lock (rm ${file}) and ${action} again`,
      file,
      null,
      false,
    );
  const alive = holderAlive(info);
  if (alive === false)
    return new RunLockError(
      `${dir} holds a stale lock: ${file} was taken by ${describe(info)}, ` +
        'which is no longer running (killed or crashed). ' +
        `If no training uses this folder, clear it with: rm ${file}`,
      file,
      info,
      true,
    );
  return new RunLockError(
    `${dir} is in use by another training: ${describe(info)}` +
      `${alive === null ? ', on another host' : ''} holds ${file}. ` +
      `Wait for it to finish or stop it, or choose another output folder; refusing to ${action}`,
    file,
    info,
    false,
  );
}

const held = new Set<string>();

export interface RunLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes `dir`'s lock (creating `dir`; a dead run's lock is taken over), after removing temporary files
 * that dead processes' atomic writes left in `dir` and its parent. Throws RunLockError when another
 * training holds it, or one whose state cannot be checked. Release it when the run ends (a finally).
 */
export function acquireRunLock(dir: string, who: string): RunLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.resolve(dir, LOCK_NAME);
  if (held.has(file)) throw lockError(file, readLock(file), 'train into it');
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    procStart: processStartTicks(process.pid),
    who,
  };
  if (!createLock(file, info)) {
    const stale = readLock(file);
    if (stale === null || holderAlive(stale) !== false || !takeOver(file, stale, info))
      throw lockError(file, readLock(file), 'train into it');
    console.error(`${dir}: took over the stale lock of ${describe(stale)}, which is no longer running`);
  }
  held.add(file);
  hookSignals();
  for (const d of [dir, path.dirname(path.resolve(dir))]) removeOrphanTemps(d);
  let released = false;
  return {
    file,
    release(): void {
      if (released) return;
      released = true;
      held.delete(file);
      fs.rmSync(file, { force: true });
    },
  };
}

/** Creates the lock file exclusively; false when it exists. */
function createLock(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, JSON.stringify(info) + '\n');
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Replaces a dead holder's lock by ours. Only the run that creates '<lock>.takeover' exclusively may
 * delete the old lock, and only if it still names the same dead process; false when another run won.
 */
function takeOver(file: string, stale: LockInfo, info: LockInfo): boolean {
  const guard = `${file}.takeover`;
  if (!createLock(guard, info)) return false;
  try {
    if (!fs.existsSync(file)) return createLock(file, info); // cleared meanwhile
    const now = readLock(file); // null: unreadable, perhaps a new lock being written: not ours to delete
    if (now === null || now.pid !== stale.pid || now.procStart !== stale.procStart) return false;
    fs.rmSync(file, { force: true });
    return createLock(file, info);
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

function releaseAll(): void {
  for (const f of held) fs.rmSync(f, { force: true });
  held.clear();
}

// A run that ends with process.exit() (a script's error path) still leaves its folder unlocked.
process.once('exit', releaseAll);

// A script stopped with Ctrl-C or `kill` dies without 'exit' handlers: release, then die by the same
// signal (the listener goes first, so the default action runs). In a kernel SIGINT is Interrupt, not
// death: the training stops at a step boundary and releases its lock itself (cancel.ts).
function releaseOnSignal(signal: NodeJS.Signals): void {
  const onSignal = (): void => {
    // A script's training loop that stops at a step boundary on Ctrl-C releases the lock itself (cancel.ts).
    if (signal === 'SIGINT' && ctrlCStopsTraining()) return;
    releaseAll();
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}
let signalsHooked = false;
function hookSignals(): void {
  if (signalsHooked || inKernel()) return;
  signalsHooked = true;
  releaseOnSignal('SIGINT');
  releaseOnSignal('SIGTERM');
}
