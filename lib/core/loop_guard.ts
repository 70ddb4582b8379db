// What a synchronous long loop (sampling, a 2-D toy training, batches of samples) does about the
// kernel's Interrupt. Two cases:
// - The loop runs after the cell's first await: SIGINT cannot stop it, so it asks the signal at each
//   step (guard.check) and throws InterruptedError there, its finally releasing its tensors.
// - The loop runs in the cell's synchronous part: Node stops that code at once (tslab runs it with
//   breakOnSigint), skipping every finally and tf.tidy's closing. The guard notices on the next turn
//   of the event loop (a synchronous loop never lets one happen while it runs, so if the guard is
//   still open then, the loop was stopped) and does what was skipped: closes the tidy scopes the loop
//   opened, restores the gradient tape and runs the loop's `release`. First it completes what the
//   stop cut short inside tfjs's own bookkeeping (a disposal, a registration, a tidy's closing:
//   engine_cuts.ts), so that nothing is disposed twice or left out of every scope.
// When the shared signal (the sentinel) stops such a loop first, Node's stop is still on its way; the
// loop waits for it at the step boundary, where nothing is half done, rather than let it land in the
// loop's cleanup or in the next cell.
import * as tf from '@tensorflow/tfjs-core';
import { awaitSigintStop, InterruptedError, interruptSignal } from './cancel';
import { engineWatch } from './engine_cuts';

/** The engine fields a stopped kernel call or tf.tidy leaves behind (not in tfjs's typings). */
interface EngineState {
  scopeStack: unknown[];
  gradientDepth: number;
  kernelDepth: number;
  activeTape: unknown;
  numDataMovesStack: unknown[];
}

export interface LoopGuard {
  /** At step boundary `step`: throws InterruptedError if an interrupt came. */
  check(step: number): void;
  /** Call in the loop's finally: the loop ended (normally or by an exception). */
  end(): void;
}

/**
 * Guards a synchronous loop named `what` ('sampling'). `release` frees what the loop holds (read
 * its variables when called); `onInterrupt` (a progress bar's) sees the step where it stopped.
 */
export function syncLoopGuard(what: string, release: () => void, onInterrupt?: (step: number) => void): LoopGuard {
  const signal = interruptSignal();
  const engine = tf.engine();
  const s = engine.state as unknown as EngineState;
  engineWatch.open();
  const saved = {
    scopes: s.scopeStack.length,
    gradientDepth: s.gradientDepth,
    kernelDepth: s.kernelDepth,
    activeTape: s.activeTape,
    moves: s.numDataMovesStack.length,
  };
  let open = true;
  let at = 0;
  setImmediate(() => {
    if (!open) return;
    open = false;
    engineWatch.close();
    engineWatch.finish();
    while (s.scopeStack.length > saved.scopes) engine.endScope();
    s.gradientDepth = saved.gradientDepth;
    s.kernelDepth = saved.kernelDepth;
    s.activeTape = saved.activeTape;
    s.numDataMovesStack.length = saved.moves;
    release();
    onInterrupt?.(at);
    console.log(`${what} interrupted at step ${at}; its tensors were released`);
  });
  return {
    check(step: number): void {
      at = step;
      if (!signal.requested) return;
      awaitSigintStop();
      onInterrupt?.(step);
      throw new InterruptedError(`${what} interrupted at step ${step}; its tensors were released`, step);
    },
    end(): void {
      if (open) engineWatch.close();
      open = false;
    },
  };
}
