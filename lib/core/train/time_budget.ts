// A learning-rate schedule on elapsed time, for training to a wall-clock budget: a linear warm-up over
// the first warmupSteps steps, then half a cosine from learningRate down to minLearningRate over what is
// left of the budget, so the decay ends when the time does, whatever the pace. A schedule on steps needs
// the step count up front, and a pace timed on a probe was up to 30 % off here (docs/results.md).
// Used with LossTrainer's learningRateFor and train()'s stopWhen: () => budget.spent().
import { cosineDecay, learningRateAt } from './lr_schedule';

export interface TimeBudgetOptions {
  budgetSeconds: number;
  learningRate: number;
  warmupSteps?: number;
  minLearningRate?: number;
  /** Clock in milliseconds (default Date.now); tests inject a fake one. */
  now?: () => number;
}

export class TimeBudget {
  private readonly now: () => number;
  private startMs: number | null = null;
  /** Seconds elapsed when warm-up ended: the cosine spans the rest of the budget. */
  private warmEndS: number | null = null;

  constructor(readonly options: TimeBudgetOptions) {
    const { budgetSeconds: b, learningRate: lr, warmupSteps: w = 0, minLearningRate: min = 0 } = options;
    if (!(b > 0) || !Number.isFinite(b)) throw new Error(`TimeBudget: budgetSeconds must be > 0, got ${b}`);
    if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`TimeBudget: learningRate must be > 0, got ${lr}`);
    if (!Number.isInteger(w) || w < 0) throw new Error(`TimeBudget: warmupSteps must be an integer >= 0, got ${w}`);
    if (!(min >= 0 && min <= lr)) throw new Error(`TimeBudget: minLearningRate must be in [0, ${lr}], got ${min}`);
    this.now = options.now ?? Date.now;
  }

  /** Seconds since the first call of elapsed, spent or learningRateAt (the clock starts there). */
  elapsed(): number {
    const t = this.now();
    this.startMs ??= t;
    return (t - this.startMs) / 1000;
  }

  /** True once the budget is used up: the next step should not start. */
  spent(): boolean {
    return this.elapsed() >= this.options.budgetSeconds;
  }

  /** The learning rate for the update at 0-based `step`, taken now. */
  learningRateAt(step: number): number {
    const { budgetSeconds: b, learningRate: lr, warmupSteps: w = 0, minLearningRate: min = 0 } = this.options;
    const s = this.elapsed();
    if (step < w) return learningRateAt(step, { learningRate: lr, warmupSteps: w });
    this.warmEndS ??= s;
    // A warm-up that outlasts the budget leaves no time to decay over: the minimum then.
    const left = b - this.warmEndS;
    return cosineDecay(left > 0 ? Math.min(1, (s - this.warmEndS) / left) : 1, lr, min);
  }
}
