// Talking to the tslab kernel. tslab's public `display.raw` sends one MIME type per message, but a
// figure should travel as one bundle (plotly JSON + SVG fallback + text) so each frontend picks the
// richest type it can render. tslab keeps the kernel's message writer in its `jupyter` module
// (`lastWriteDisplayData`, set on every execute request); we use that and fall back to the public
// API (one MIME type) if a future tslab moves it. Outside a kernel everything here is a no-op.
import { randomBytes } from 'crypto';

/** One display_data bundle: MIME type -> text, or bytes (sent base64, as Jupyter expects). */
export type MimeBundle = Record<string, string | Uint8Array | object>;

type WriteDisplayData = (
  content: { data: Record<string, unknown>; metadata: Record<string, unknown>; transient: Record<string, unknown> },
  update: boolean,
) => void;

/** True while running inside a tslab kernel (tslab sets `globalThis.__tslab__` before running cells). */
export function inKernel(): boolean {
  return (globalThis as { __tslab__?: unknown }).__tslab__ !== undefined;
}

// Finds the writer in whichever copy of tslab started the kernel (it may not be the project's copy).
// The module is looked up once (scanning require.cache per progress-bar redraw was needless work);
// the writer itself is re-read on every call because tslab replaces it on each execute request.
let jupyterModule: NodeModule | undefined;
function findWriter(): WriteDisplayData | null {
  jupyterModule ??= Object.values(require.cache).find(
    (m) => m !== undefined && /tslab[\\/]dist[\\/]jupyter\.js$/.test(m.filename),
  );
  const w = (jupyterModule?.exports as { lastWriteDisplayData?: unknown } | undefined)?.lastWriteDisplayData;
  return typeof w === 'function' ? (w as WriteDisplayData) : null;
}

function encode(bundle: MimeBundle): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, value] of Object.entries(bundle)) {
    out[mime] = value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
  }
  return out;
}

// MIME types in the order a single-type fallback prefers them.
const FALLBACK_ORDER = ['image/png', 'image/svg+xml', 'text/html', 'text/plain'];

// tslab hands each message to ZeroMQ without awaiting it; the messages only leave while the event
// loop turns. A synchronous cell (a training loop) that keeps updating a progress bar queues them
// until ZeroMQ's high-water mark, after which every later message is dropped: measured here, ~500
// queued updates, then even the cell's own console output and errors vanished and the run failed.
// So in-place updates are skipped once this many messages wait for the event loop to turn.
const MAX_QUEUED_UPDATES = 100;
let queued = 0;
let turnScheduled = false;

/** Counts a message sent before the event loop turns; returns how many are waiting. */
function noteQueued(): number {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(() => {
      queued = 0;
      turnScheduled = false;
    });
  }
  return ++queued;
}

export interface DisplayOptions {
  /** Reuse an id (from newDisplayId) to overwrite an earlier output in place. */
  displayId?: string;
  /** true: replace the output sent earlier with the same displayId instead of adding one. */
  update?: boolean;
  /**
   * An in-place update that may be skipped when too many messages wait for a blocked event loop
   * (progress bars mid-loop). The last update of a bar is not droppable, so the final state shows.
   */
  droppable?: boolean;
  metadata?: Record<string, unknown>;
}

/**
 * Sends a MIME bundle to the notebook. Returns false (and does nothing) outside a kernel, so
 * library code can call it from scripts and tests too.
 */
export function sendDisplay(bundle: MimeBundle, opts: DisplayOptions = {}): boolean {
  if (Object.keys(bundle).length === 0) throw new Error('sendDisplay: the MIME bundle is empty');
  if (!inKernel()) return false;
  const write = findWriter();
  const transient = opts.displayId ? { display_id: opts.displayId } : {};
  if (write) {
    if (opts.droppable && opts.update && queued >= MAX_QUEUED_UPDATES) return false;
    noteQueued();
    write({ data: encode(bundle), metadata: opts.metadata ?? {}, transient }, opts.update === true);
    return true;
  }
  // Fallback through the public API: one MIME type only, no in-place updates.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const tslab = require('tslab') as { display: { raw(mime: string, b: string | Uint8Array): void } };
  const mime = FALLBACK_ORDER.find((m) => m in bundle) ?? Object.keys(bundle)[0];
  const value = bundle[mime];
  tslab.display.raw(mime, typeof value === 'object' && !(value instanceof Uint8Array) ? JSON.stringify(value) : value);
  return true;
}

/**
 * The cell being run, as an identity to compare (undefined outside a kernel): tslab makes a new
 * message writer for every execute request.
 */
export function currentCell(): unknown {
  return inKernel() ? (findWriter() ?? undefined) : undefined;
}

/** True when outputs can be overwritten in place (inside a kernel whose message writer we found). */
export function canUpdateDisplay(): boolean {
  return inKernel() && findWriter() !== null;
}

/** A fresh id for outputs that are later overwritten (progress bars, live plots). */
export function newDisplayId(): string {
  return randomBytes(8).toString('hex');
}
