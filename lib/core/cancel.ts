// One cancellation signal for every long loop of the course, set by the kernel's Interrupt.
//
// Jupyter interrupts a kernel with SIGINT (jupyter_client sends it to the kernel's process group).
// tslab then rejects the running cell's promise but cannot stop the work behind it: an asynchronous
// training loop would go on in the background, holding the CPU and the event loop. So each loop asks
// this signal at its step boundaries and stops there itself, releasing what it holds.
//
// Two sources count interrupts, because a loop may not see the first: tslab's own SIGINT handler
// (and ours next to it) runs only when the event loop turns, which a synchronous loop (sampling)
// never lets happen. So in the kernel a tiny sentinel shell, started in the same process group,
// also receives every SIGINT and appends one byte to a file whose size any loop can read at once
// (one fstat per step).
//
// The signal resets itself: a loop takes the count when it starts and stops only for interrupts
// after that, or for one that hit the cell that started it (a cell whose promise tslab already
// rejected must not start a new loop in the background). The next cell runs normally.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { currentCell, inKernel } from './kernel_display';

/** Thrown by a loop that stopped at a step boundary because of an interrupt. */
export class InterruptedError extends Error {
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
    this.name = 'InterruptedError';
  }
}

let handled = 0;
let interruptedCell: unknown = undefined;
let hooked = false;
let sentinelFd: number | null = null;

/** Counts an interrupt now (what the kernel's SIGINT does; tests and callers may call it too). */
export function requestInterrupt(): void {
  handled++;
  interruptedCell = currentCell() ?? interruptedCell;
}

/** Interrupts seen so far, by either source. */
function received(): number {
  let sentinel = 0;
  if (sentinelFd !== null) {
    try {
      sentinel = fs.fstatSync(sentinelFd).size;
    } catch {
      sentinel = 0;
    }
  }
  return handled + sentinel;
}

// Writes one byte per SIGINT to its stdout, a file only the kernel holds open (its name is removed
// at once, so nothing is left behind). `cat` (killed by each SIGINT, then restarted) ends at EOF when
// the kernel's end of the stdin pipe closes, so the sentinel exits with the kernel.
const SENTINEL = "trap 'printf x' INT; while :; do cat >/dev/null; [ $? -ge 128 ] || exit 0; done";

function startSentinel(): void {
  if (process.platform === 'win32') return;
  let fd: number | null = null;
  try {
    // A fresh private folder (0700) and an exclusive create: never a guessable name in a shared /tmp
    // that another user could plant or point at one of our files.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffusion-ts-interrupts-'));
    const file = path.join(dir, 'count');
    const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    fs.unlinkSync(file);
    fs.rmdirSync(dir);
    const child = spawn('/bin/sh', ['-c', SENTINEL], { stdio: ['pipe', fd, 'ignore'] });
    child.on('error', () => (sentinelFd = null));
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    sentinelFd = fd;
  } catch {
    if (fd !== null) fs.closeSync(fd);
    sentinelFd = null; // the process handler alone still stops asynchronous loops
  }
}

/** In a kernel: listens for SIGINT (once). Outside (scripts, tests) Ctrl-C keeps its default: exit. */
export function installInterruptHook(): void {
  if (hooked || !inKernel()) return;
  hooked = true;
  // In a cell's synchronous part (tslab's listener is off for the run) a listener added now would
  // take SIGINT from Node's watchdog, and when the run ends Node resets SIGINT to its default, exit:
  // the kernel's next Interrupt outside such a run killed it. So it is added after the run.
  if (process.listenerCount('SIGINT') === 0) setImmediate(() => process.on('SIGINT', requestInterrupt));
  else process.on('SIGINT', requestInterrupt);
  startSentinel();
}

/**
 * In a cell's synchronous part (tslab runs it with vm's breakOnSigint, which takes the SIGINT
 * listeners off for the run, tslab's and ours) each SIGINT also makes Node stop the running code. When
 * the sentinel reported one first, waits here, at a point where nothing is half done, until Node's
 * stop arrives (its watchdog thread may lag on a busy machine; up to `maxMs`). Otherwise the stop
 * lands wherever the code is by then, or, once the cell has ended, in the next cell. Returns at once
 * outside such a run, and after `maxMs` if no stop came.
 */
export function awaitSigintStop(maxMs = 3000): void {
  if (!hooked || process.listenerCount('SIGINT') > 0) return;
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    // Node's stop lands in this loop.
  }
}

/**
 * Shows why an asynchronous loop stopped. tslab ends such a cell on Interrupt with its own
 * "Interrupted asynchronously" and drops the loop's later error, so the message goes to the output.
 */
export function reportInterrupt(message: string): void {
  if (inKernel()) console.log(message);
}

export interface InterruptSignal {
  /** True once an interrupt arrived after the signal was made (or hit the cell that made it). */
  readonly requested: boolean;
}

/** The signal a loop starting now asks at each step. */
export function interruptSignal(): InterruptSignal {
  installInterruptHook();
  const base = received();
  const cell = currentCell();
  return {
    get requested(): boolean {
      if (received() > base) {
        // The sentinel may see it before the SIGINT handler runs: mark the cell here too.
        if (cell !== undefined) interruptedCell = cell;
        return true;
      }
      return cell !== undefined && cell === interruptedCell;
    },
  };
}

// A command-line training (scripts/train*.ts). Without this, Ctrl-C there exits at once and the run keeps
// only its last periodic checkpoint (up to --every steps lost).
let ctrlCStops = false;
let ctrlCListening = false;
/** Signals closer than this are one Ctrl-C: launchers (npm, tsx) relay the terminal's SIGINT to the script too. */
const SAME_CTRL_C_MS = 1000;

/**
 * In a script: while a training loop runs (listenForCtrlC), the first Ctrl-C (SIGINT) asks it to stop after
 * its step in progress, where it writes its checkpoint and throws InterruptedError; a second one quits at
 * once (exit 130). Outside the loop Ctrl-C keeps its default (a synchronous phase such as sampling would
 * never let a listener run).
 */
export function stopTrainingOnCtrlC(): void {
  if (!inKernel()) ctrlCStops = true;
}

/** For a training loop: listens for Ctrl-C as above when the script asked for it; returns the removal. */
export function listenForCtrlC(): () => void {
  if (!ctrlCStops) return () => undefined;
  let first = 0;
  const onSigint = (): void => {
    const now = Date.now();
    if (first === 0) {
      first = now;
      requestInterrupt();
      process.stderr.write(
        '\nCtrl-C: stopping after the step in progress and writing a checkpoint (Ctrl-C again quits now)\n',
      );
    } else if (now - first > SAME_CTRL_C_MS) process.exit(130);
  };
  process.on('SIGINT', onSigint);
  ctrlCListening = true;
  return () => {
    process.off('SIGINT', onSigint);
    ctrlCListening = false;
  };
}

/** True while a training loop takes Ctrl-C as "stop at the next step" (run_lock.ts then leaves SIGINT to it). */
export function ctrlCStopsTraining(): boolean {
  return ctrlCListening;
}

/** True in a script that asked for stopTrainingOnCtrlC (its interrupted trainings say how to go on). */
export function trainingStopsOnCtrlC(): boolean {
  return ctrlCStops;
}
