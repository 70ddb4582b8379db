// `npm run eval -- 15`: synthetic data for downstream models (lib/eval/lesson15.ts).
// Flags (defaults in brackets):
//   --n N                synthetic (and augmented) images added for the rare class [1000]
//   --rare-class K       Fashion-MNIST class made rare [5 = Sandal]     --fraction F  share kept [0.01]
//   --epochs N [2]       --train-count N  use N training images before the cut (quick runs) [all]
//   --guidance W [5]     --steps N  DDIM steps of both generators [25]  --batch N  sampling batch [100]
//   --real-boxes N [50]  --synthetic-boxes N [500]  --test-boxes N [500]  --detector-steps N [1500]
//   --seed N [0]
import { LESSON15_DEFAULTS, runLesson15 } from '../lib/eval/lesson15';
import { intFlag, LessonEval, scaleList, UsageError, walkFlags } from './eval_flags';

const lesson15: LessonEval = {
  summary:
    "synthetic data for downstream models: rare-class recall of a Fashion-MNIST classifier (as is / augmented / + lesson 07 samples / both) and a box detector's mAP@0.5 with and without lesson 14's grounded samples",
  flags:
    '[--n N] [--rare-class K] [--fraction F] [--epochs N] [--train-count N] [--guidance W] [--steps N] [--real-boxes N] [--synthetic-boxes N] [--test-boxes N] [--detector-steps N] [--seed N] [--batch N]',
  async run(argv, backend) {
    const o = { ...LESSON15_DEFAULTS, backend, progress: 'stderr' as const };
    const c = walkFlags(argv, '15', { n: o.extra, seed: o.seed, batch: o.batch, steps: o.steps }, 1, {
      '--rare-class': (next, f) => (o.rareClass = intFlag(f, next(), 0)),
      '--fraction': (next, f) => {
        const v = Number(next());
        if (!(v > 0 && v <= 1)) throw new UsageError(`${f} needs a share in (0, 1]`);
        o.fraction = v;
      },
      '--epochs': (next, f) => (o.epochs = intFlag(f, next(), 1)),
      '--train-count': (next, f) => (o.trainCount = intFlag(f, next(), 100)),
      '--guidance': (next, f) => {
        const xs = scaleList(f, next());
        if (xs.length !== 1) throw new UsageError(`${f} takes one scale`);
        o.guidance = xs[0];
      },
      '--real-boxes': (next, f) => (o.realBoxes = intFlag(f, next(), 1)),
      '--synthetic-boxes': (next, f) => (o.syntheticBoxes = intFlag(f, next(), 1)),
      '--test-boxes': (next, f) => (o.testBoxes = intFlag(f, next(), 1)),
      '--detector-steps': (next, f) => (o.detectorSteps = intFlag(f, next(), 1)),
    });
    if (o.rareClass > 9) throw new UsageError(`--rare-class must be 0..9, got ${o.rareClass}`);
    Object.assign(o, { extra: c.n, seed: c.seed, batch: c.batch, steps: c.steps as number });
    console.log(
      `lesson 15: rare class ${o.rareClass} kept at ${o.fraction}, +${o.extra} images (CFG w = ${o.guidance}, DDIM-${o.steps}), ${o.epochs} epochs; detector ${o.realBoxes} real + ${o.syntheticBoxes} synthetic, ${o.detectorSteps} steps, ${o.testBoxes} test scenes; seed ${o.seed}`,
    );
    const r = await runLesson15(o);
    console.log(r.classifierTable);
    console.log(r.detectorTable);
    return r.record;
  },
};

export const APP_EVALS: Record<string, LessonEval> = { '15': lesson15 };
