// When Node stops a cell's synchronous code (tslab runs it with vm's breakOnSigint), the stop can
// fall inside tfjs's own bookkeeping, between two of its statements. Three such steps matter, because
// redoing or skipping them afterwards corrupts the tensor count or memory (measured with real SIGINTs
// on a sampling loop: 2 of 73 interrupts left tf.memory().numTensors one short for good, then the
// wasm heap broke and every later op threw; with disposals repaired alone, 1 in 300 left it one over):
// - a tensor's disposal, after tfjs counted it out but before the backend freed it: disposing it
//   again counts it out twice and, on wasm, frees its memory twice;
// - a new tensor's registration, after it was counted but before a tf.tidy scope tracked it: no
//   scope ever disposes it;
// - a tf.tidy's closing, before its results reached the parent scope (or the caller, for results it
//   keeps with tf.keep): no scope ever disposes them.
// While a loop guard is open (engineWatch.open) each of these steps is noted as it starts; after a
// stop the guard calls finish(), which completes the noted step without repeating what was done.
// These are tfjs 4.x engine internals (not in its typings), like the fields the loop guard restores.
import * as tf from '@tensorflow/tfjs-core';

interface EngineState {
  numTensors: number;
  numBytes: number;
  numDataBuffers: number;
  tensorInfo: WeakMap<object, { backend: tf.KernelBackend; dtype: string; shape: number[]; bytes: number }>;
  scopeStack: { id: number }[];
  activeScope: { id: number } | null;
}

interface Engine {
  state: EngineState;
  backend: tf.KernelBackend;
  disposeTensor(t: tf.Tensor): void;
  trackTensor(t: tf.Tensor, backend?: tf.KernelBackend): void;
  endScope(result?: unknown): void;
  removeDataId(dataId: object, backend: tf.KernelBackend): void;
}

type Counts = { numTensors: number; numBytes: number };
interface Disposal extends Counts {
  t: tf.Tensor;
  refCount: number;
}
interface Creation extends Counts {
  t: tf.Tensor;
  backend?: tf.KernelBackend;
}
interface Closing {
  result: unknown;
  scopeId: number;
}

let watching = 0;
let disposal: Disposal | null = null;
let creation: Creation | null = null;
let closing: Closing | null = null;
let original: Pick<Engine, 'disposeTensor' | 'trackTensor' | 'endScope'> | null = null;

const bytesOf = (t: tf.Tensor) =>
  t.dtype === 'string' || t.dtype === 'complex64' ? 0 : t.size * tf.util.bytesPerElement(t.dtype);

/** The tensors in a tf.tidy result (a tensor, or arrays and objects of them). */
function tensorsIn(x: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (x instanceof tf.Tensor) out.push(x);
  else if (Array.isArray(x)) x.forEach((v) => tensorsIn(v, out));
  else if (x !== null && typeof x === 'object') Object.values(x).forEach((v) => tensorsIn(v, out));
  return out;
}

function install(e: Engine): void {
  if (original) return;
  const o = {
    disposeTensor: e.disposeTensor.bind(e),
    trackTensor: e.trackTensor.bind(e),
    endScope: e.endScope.bind(e),
  };
  original = o;
  const s = e.state;
  e.disposeTensor = (t) => {
    if (watching === 0) return o.disposeTensor(t);
    const info = s.tensorInfo.get(t.dataId);
    const refCount = info ? info.backend.refCount(t.dataId) : 0;
    disposal = { t, numTensors: s.numTensors, numBytes: s.numBytes, refCount };
    try {
      o.disposeTensor(t);
    } finally {
      disposal = null; // a stop skips finally: the note stays for finish()
    }
  };
  e.trackTensor = (t, backend) => {
    // A variable's registration also takes a backend reference afterwards (engine.incRef): not ours.
    if (watching === 0 || t instanceof tf.Variable) return o.trackTensor(t, backend);
    creation = { t, backend, numTensors: s.numTensors, numBytes: s.numBytes };
    try {
      o.trackTensor(t, backend);
    } finally {
      creation = null;
    }
  };
  e.endScope = (result) => {
    if (watching === 0 || !s.activeScope) return o.endScope(result);
    closing = { result, scopeId: s.activeScope.id };
    try {
      o.endScope(result);
    } finally {
      closing = null;
    }
  };
}

/** Completes a disposal that was stopped midway, doing only the steps tfjs had not done. */
function finishDisposal(e: Engine, cut: Disposal): void {
  const { t } = cut;
  const s = e.state;
  if (s.numTensors === cut.numTensors) {
    original?.disposeTensor(t); // stopped before tfjs changed anything
  } else {
    if (s.numBytes === cut.numBytes) s.numBytes -= bytesOf(t);
    const info = s.tensorInfo.get(t.dataId);
    if (info) {
      const refCount = info.backend.refCount(t.dataId);
      // The backend untouched: free it now. Its reference gone: it freed the buffer or was about to
      // (then the buffer stays allocated: a leak of one buffer, never a double free).
      if (refCount === cut.refCount) {
        if (info.backend.disposeData(t.dataId)) e.removeDataId(t.dataId, info.backend);
      } else if (refCount === 0) {
        e.removeDataId(t.dataId, info.backend);
      }
    }
  }
  (t as unknown as { isDisposedInternal: boolean }).isDisposedInternal = true;
}

/** Completes a registration that was stopped midway, then disposes the tensor: nobody received it. */
function finishCreation(e: Engine, cut: Creation): void {
  const { t } = cut;
  const s = e.state;
  if (s.numTensors === cut.numTensors) {
    original?.trackTensor(t, cut.backend);
  } else {
    const bytes = bytesOf(t);
    if (s.numBytes === cut.numBytes) s.numBytes += bytes;
    if (!s.tensorInfo.has(t.dataId)) {
      s.numDataBuffers++;
      s.tensorInfo.set(t.dataId, { backend: cut.backend ?? e.backend, dtype: t.dtype, shape: t.shape, bytes });
    }
  }
  t.dispose();
}

/**
 * Disposes the results of a tf.tidy stopped while closing: nobody received them. The non-kept ones
 * the guard would also free while its scope is still open, but not once it was popped; the kept ones
 * (tf.keep, e.g. FiniteWatch's running code) no scope ever frees.
 */
function finishClosing(cut: Closing): void {
  for (const t of tensorsIn(cut.result)) {
    if ((t as unknown as { scopeId: number }).scopeId === cut.scopeId) t.dispose();
  }
}

export const engineWatch = {
  /** A guard opens: note the three steps from now on (installed once; a few Map lookups each). */
  open(): void {
    install(tf.engine() as unknown as Engine);
    watching++;
  },
  close(): void {
    watching--;
  },
  /**
   * After a stop, before the guard closes the loop's scopes: completes a stopped disposal or tidy
   * closing, and disposes a tensor whose registration was stopped. Call with the guard closed.
   */
  finish(): void {
    const e = tf.engine() as unknown as Engine;
    const [d, c, cl] = [disposal, creation, closing];
    disposal = creation = closing = null;
    if (d) finishDisposal(e, d);
    if (cl) finishClosing(cl);
    if (c) finishCreation(e, c);
  },
};
