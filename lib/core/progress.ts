// A progress bar for long loops (training, sampling). It redraws in place in a notebook (one output
// overwritten through display ids, so the saved notebook keeps only the final line) and in a terminal
// (`\r`), and prints a line every ~10% or 30 s when the output is a log file (CI), not thousands.
import { canUpdateDisplay, newDisplayId, sendDisplay } from './kernel_display';

export type ProgressValues = Record<string, number | string>;

export interface ProgressOptions {
  /** Number of steps; taken from the iterable's length/size when omitted. */
  total?: number;
  /** Text in front of the bar, e.g. 'train'. */
  label?: string;
  /** 'auto' (default) picks notebook, then tty if the stream is a terminal, else log. */
  mode?: 'auto' | 'notebook' | 'tty' | 'log';
  /** Where tty/log output goes (default process.stdout). */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Clock in milliseconds (default Date.now); tests inject a fake one. */
  now?: () => number;
  /** Least time between redraws in notebook/tty mode (default 200 ms). */
  minIntervalMs?: number;
  /** Log mode: a line each time this many percent more are done (default 10). */
  logEveryPercent?: number;
  /** Log mode: a line at least this often while running (default 30 s). */
  logEverySeconds?: number;
  /** Bar width in characters (default 20). */
  width?: number;
}

/** 75 -> '01:15', 3725 -> '1:02:05'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Steps per second as '12.3 it/s', or '4.20 s/it' when slower than one per second. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '? it/s';
  if (perSecond < 1) return `${(1 / perSecond).toFixed(2)} s/it`;
  return `${perSecond >= 100 ? Math.round(perSecond) : perSecond.toFixed(perSecond >= 10 ? 1 : 2)} it/s`;
}

/** Four significant digits, exponent form for tiny/huge values: 0.012345 -> '0.01235'. */
export function formatValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

function inferTotal(src: unknown): number | undefined {
  if (src && typeof src === 'object') {
    const o = src as { length?: unknown; size?: unknown };
    if (typeof o.length === 'number') return o.length;
    if (typeof o.size === 'number') return o.size;
  }
  return undefined;
}

export class ProgressBar<T = number> implements Iterable<T> {
  readonly total?: number;
  count = 0;
  private readonly opts: ProgressOptions;
  private readonly now: () => number;
  private readonly mode: 'notebook' | 'tty' | 'log';
  private readonly stream: { write(s: string): unknown; isTTY?: boolean };
  private readonly source?: Iterable<T>;
  private t0: number;
  private lastDraw = -Infinity;
  private lastLogTime: number;
  private lastLogPercent = 0;
  private values: ProgressValues = {};
  private displayId?: string;
  private finished = false;
  private note = '';

  constructor(source?: Iterable<T>, opts: ProgressOptions = {}) {
    const total = opts.total ?? inferTotal(source);
    if (total !== undefined && !(Number.isInteger(total) && total >= 0)) {
      throw new Error(`progress: total must be an integer >= 0, got ${total}`);
    }
    this.total = total;
    this.source = source;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.stream = opts.stream ?? process.stdout;
    const mode = opts.mode ?? 'auto';
    if (!['auto', 'notebook', 'tty', 'log'].includes(mode)) throw new Error(`progress: unknown mode '${mode}'`);
    this.mode =
      mode !== 'auto' ? mode : !opts.stream && canUpdateDisplay() ? 'notebook' : this.stream.isTTY ? 'tty' : 'log';
    this.t0 = this.now();
    this.lastLogTime = this.t0;
  }

  /** Marks n more steps done and redraws (throttled). */
  update(n = 1): void {
    this.count += n;
    this.draw(false);
  }

  /** Sets values shown after the bar, e.g. bar.set({loss: 0.03}). */
  set(values: ProgressValues): void {
    Object.assign(this.values, values);
    this.draw(false);
  }

  /** Draws the final state; further calls do nothing. */
  finish(): void {
    if (this.finished) return;
    this.draw(true);
    this.finished = true;
  }

  /** Draws the final state with 'interrupted at step N' (the loop stopped on the kernel's Interrupt). */
  interrupted(step: number): void {
    if (this.finished) return;
    this.note = ` interrupted at step ${step}`;
    this.finish();
  }

  /** The current line, e.g. 'train  45%|█████     | 45/100 [00:09<00:11, 5.00 it/s] loss=0.1'. */
  line(): string {
    const elapsed = (this.now() - this.t0) / 1000;
    const rate = elapsed > 0 ? this.count / elapsed : NaN;
    const label = this.opts.label ? `${this.opts.label} ` : '';
    const vals = Object.entries(this.values)
      .map(([k, v]) => ` ${k}=${formatValue(v)}`)
      .join('');
    if (this.total === undefined) {
      return `${label}${this.count} it [${formatDuration(elapsed)}, ${formatRate(rate)}]${vals}${this.note}`;
    }
    const frac = this.total > 0 ? Math.min(1, this.count / this.total) : 1;
    const width = this.opts.width ?? 20;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + ' '.repeat(width - filled);
    const eta = rate > 0 ? (this.total - this.count) / rate : NaN;
    const pct = `${Math.floor(frac * 100)}%`.padStart(4);
    return `${label}${pct}|${bar}| ${this.count}/${this.total} [${formatDuration(elapsed)}<${formatDuration(eta)}, ${formatRate(rate)}]${vals}${this.note}`;
  }

  [Symbol.iterator](): Iterator<T> {
    if (!this.source) throw new Error('progress: nothing to iterate; pass an iterable or a count, e.g. progress(100)');
    const source = this.source;
    // A generator so that `break` or an exception still runs finish() (through return/finally).
    const self = this;
    function* run(): Generator<T> {
      if (self.count === 0) self.t0 = self.lastLogTime = self.now();
      self.draw(false); // show 0% at once: the first step of a training loop can be slow
      try {
        for (const item of source) {
          yield item;
          self.update(1);
        }
      } finally {
        self.finish();
      }
    }
    return run();
  }

  private draw(final: boolean): void {
    if (this.finished) return;
    const t = this.now();
    if (this.mode === 'log') {
      const pct = this.total ? (100 * this.count) / this.total : 0;
      const step = this.opts.logEveryPercent ?? 10;
      const crossed =
        this.total !== undefined && this.total > 0 && Math.floor(pct / step) > Math.floor(this.lastLogPercent / step);
      const stale = t - this.lastLogTime >= (this.opts.logEverySeconds ?? 30) * 1000;
      const due = final && (pct !== this.lastLogPercent || this.total === undefined || this.note !== '');
      if (crossed || stale || due) {
        this.stream.write(this.line() + '\n');
        this.lastLogTime = t;
        this.lastLogPercent = pct;
      }
      return;
    }
    if (!final && t - this.lastDraw < (this.opts.minIntervalMs ?? 200)) return;
    this.lastDraw = t;
    if (this.mode === 'tty') {
      this.stream.write(`\r${this.line()}\x1b[K${final ? '\n' : ''}`);
    } else {
      const first = this.displayId === undefined;
      if (first) this.displayId = newDisplayId();
      sendDisplay({ 'text/plain': this.line() }, { displayId: this.displayId, update: !first, droppable: !final });
    }
  }
}

/**
 * Wraps a loop in a progress bar: `for (const i of progress(100)) {...}` or
 * `const bar = progress(batches, {label: 'train'}); for (const b of bar) { ...; bar.set({loss}); }`.
 * A number n means 0..n-1. Without an iterable, call bar.update() and bar.finish() yourself.
 */
export function progress(n: number, opts?: ProgressOptions): ProgressBar<number>;
export function progress<T>(items: Iterable<T>, opts?: ProgressOptions): ProgressBar<T>;
export function progress<T>(items: Iterable<T> | number, opts: ProgressOptions = {}): ProgressBar<T | number> {
  if (typeof items === 'number') {
    if (!(Number.isInteger(items) && items >= 0))
      throw new Error(`progress: count must be an integer >= 0, got ${items}`);
    const n = items;
    const range = {
      length: n,
      *[Symbol.iterator]() {
        for (let i = 0; i < n; i++) yield i;
      },
    };
    return new ProgressBar<number>(range, opts);
  }
  if (items === null || typeof (items as Iterable<T>)[Symbol.iterator] !== 'function') {
    throw new Error('progress: expected a number or an iterable (array, generator, ...)');
  }
  return new ProgressBar<T>(items, opts);
}

/** Where a long job shows progress: false nowhere, true the default place, 'stderr' (scripts keep stdout for results). */
export type ProgressSetting = boolean | 'stderr';

/** A bar of `total` steps placed per `setting` (undefined: the default place), or null when it is off. */
export function optionalBar(
  setting: ProgressSetting | undefined,
  label: string,
  total: number,
): ProgressBar<number> | null {
  if (setting === false) return null;
  return new ProgressBar<number>(undefined, {
    label,
    total,
    ...(setting === 'stderr' ? { stream: process.stderr } : {}),
  });
}
