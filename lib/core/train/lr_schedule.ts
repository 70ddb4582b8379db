// Learning rate per step: a linear warm-up from 0 (Adam's first steps use poor moment estimates,
// and a full-size step then can throw a fresh network far off), then constant, a cosine decay or a
// linear decay (BERT's) down to minLearningRate at totalSteps. Every training loop of the course
// takes its rate from learningRateAt, as nanoGPT's get_lr is its one learning-rate function.

export interface LrScheduleOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  learningRate: number;
  /** Steps of linear warm-up (0: none). */
  warmupSteps?: number;
  /** After warm-up: 'constant' (default), 'cosine' or 'linear' down to minLearningRate at totalSteps. */
  decay?: 'constant' | 'cosine' | 'linear';
  /** Needed for 'cosine' and 'linear'. */
  totalSteps?: number;
  minLearningRate?: number;
}

const DECAYS = ['constant', 'cosine', 'linear'];

export function validateLrSchedule(o: LrScheduleOptions): void {
  if (!(o.learningRate > 0) || !Number.isFinite(o.learningRate))
    throw new Error(`learning rate must be a positive number, got ${o.learningRate}`);
  const w = o.warmupSteps ?? 0;
  if (!Number.isInteger(w) || w < 0) throw new Error(`warmupSteps must be an integer >= 0, got ${w}`);
  const decay = o.decay ?? 'constant';
  if (!DECAYS.includes(decay)) throw new Error(`decay must be 'constant', 'cosine' or 'linear', got '${decay}'`);
  const min = o.minLearningRate ?? 0;
  if (!(min >= 0) || min > o.learningRate) throw new Error(`minLearningRate must be in [0, learningRate], got ${min}`);
  if (decay !== 'constant' && !(Number.isInteger(o.totalSteps) && (o.totalSteps as number) > w)) {
    throw new Error(`${decay} decay needs totalSteps, an integer > warmupSteps (${w}), got ${o.totalSteps}`);
  }
}

/** The learning rate for the update made at 0-based `step`. */
export function learningRateAt(step: number, o: LrScheduleOptions): number {
  validateLrSchedule(o);
  const w = o.warmupSteps ?? 0;
  // Step 0 of a warm-up gets lr/w, not 0: a zero step would waste an update.
  if (step < w) return (o.learningRate * (step + 1)) / w;
  const decay = o.decay ?? 'constant';
  if (decay === 'constant') return o.learningRate;
  const min = o.minLearningRate ?? 0;
  const total = o.totalSteps as number;
  const progress = Math.min(1, (step - w) / Math.max(1, total - w));
  if (decay === 'linear') return min + (o.learningRate - min) * (1 - progress);
  return cosineDecay(progress, o.learningRate, min);
}

/** Half a cosine from `peak` (progress 0) down to `min` (progress 1). */
export function cosineDecay(progress: number, peak: number, min: number): number {
  return min + 0.5 * (peak - min) * (1 + Math.cos(Math.PI * progress));
}
