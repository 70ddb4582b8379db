// `npm run eval -- 17`: lesson 17's text-to-video model (lib/eval/lesson17.ts). At each guidance scale, the
// first n captions of the held-out clips sampled from the same starting noise (DDIM, all frames of a clip
// denoised together), every frame read by the exact shapes detector: the share of clips whose motion,
// object and colour match the caption, and frame consistency, next to the real clips' values.
// Flags (defaults in brackets):
//   --n N              clips per scale [140]
//   --scales LIST      guidance scales [0,1,3,5]
//   --steps N          DDIM steps [25]
//   --seed N           starting noise [0]
//   --batch N          clips per network call [10]
//   --checkpoint FILE  the video model, or a training state (its EMA weights) [checkpoints/17/model.safetensors]
import { loadPretrained, pretrainedPath } from '../lib/course/models';
import { evaluateVideo, formatVideoTable, videoRecord } from '../lib/eval/lesson17';
import { fileFlag, LessonEval, scaleList, walkFlags } from './eval_flags';

const lesson17: LessonEval = {
  summary:
    "text-to-video (temporal attention on lesson 10's UNet, CFG): share of held-out captions whose motion, object and colour the shapes detector finds in every frame, per guidance scale",
  flags: '[--n N] [--scales 0,1,3,5] [--steps N] [--seed N] [--batch N] [--checkpoint FILE]',
  async run(argv, backend) {
    let file = pretrainedPath('17/video-unet');
    let scales = [0, 1, 3, 5];
    const c = walkFlags(argv, '17', { n: 140, seed: 0, batch: 10, steps: 25 }, 1, {
      '--scales': (next, f) => (scales = scaleList(f, next())),
      '--checkpoint': (next, f) => (file = fileFlag(f, next())),
    });
    const model = loadPretrained('17/video-unet', file);
    console.log(
      `lesson 17: ${file} (${model.paramCount.toLocaleString('en')} parameters), n = ${c.n} clips per scale, DDIM-${c.steps}, seed ${c.seed}`,
    );
    const t0 = Date.now();
    try {
      const r = await evaluateVideo(model, {
        scales,
        n: c.n,
        steps: c.steps as number,
        seed: c.seed,
        batchClips: c.batch,
        log: (l) => console.error(l),
      });
      console.log(formatVideoTable(r));
      return { lesson: '17', seed: c.seed, backend, seconds: Math.round((Date.now() - t0) / 1000), ...videoRecord(r) };
    } finally {
      model.dispose();
    }
  },
};

export const VIDEO_EVALS: Record<string, LessonEval> = { '17': lesson17 };
