// `npm run eval -- 16`: lesson 16's spectrogram diffusion model (lib/methods/audio/eval.ts). At each
// guidance scale, n = 36 x per-class samples with balanced (pitch, instrument) labels from the same
// starting noise (DDIM); pitch accuracy of their Griffin-Lim waveforms, instrument accuracy and the
// Fréchet distance on the instrument classifier's features, next to held-out real clips' values.
// Flags (defaults in brackets):
//   --n N              samples per scale, rounded up to whole sets of the 36 classes [180]
//   --scales LIST      guidance scales [0,1,2,3]
//   --steps N          DDIM steps [25]
//   --gl N             Griffin-Lim iterations per sample [16]
//   --seed N           starting noise and the held-out real sets [0]
//   --batch N          samples per network call [72]
//   --checkpoint FILE  the UNet [checkpoints/16/model.safetensors]
import { loadPretrained, pretrainedPath } from '../lib/course/models';
import { NUM_CLASSES } from '../lib/methods/audio/dataset';
import { evaluateAudio } from '../lib/methods/audio/eval';
import { fileFlag, intFlag, LessonEval, scaleList, walkFlags } from './eval_flags';

const lesson16: LessonEval = {
  summary:
    'spectrogram diffusion (36 pitch x instrument classes, CFG): pitch accuracy of the Griffin-Lim sound, instrument accuracy and feature Fréchet distance (with its floor) per guidance scale',
  flags: '[--n N] [--scales 0,1,2,3] [--steps N] [--gl N] [--seed N] [--batch N] [--checkpoint FILE]',
  async run(argv, backend) {
    let file = pretrainedPath('16/audio-unet');
    let scales = [0, 1, 2, 3];
    let gl = 16;
    const c = walkFlags(argv, '16', { n: 180, seed: 0, batch: 72, steps: 25 }, NUM_CLASSES, {
      '--scales': (next, f) => (scales = scaleList(f, next())),
      '--gl': (next, f) => (gl = intFlag(f, next(), 1)),
      '--checkpoint': (next, f) => (file = fileFlag(f, next())),
    });
    const perClass = Math.ceil(c.n / NUM_CLASSES);
    const unet = loadPretrained('16/audio-unet', file);
    const cls = loadPretrained('16/instrument-classifier');
    console.log(
      `lesson 16: ${file} (${unet.paramCount.toLocaleString('en')} parameters), n = ${perClass * NUM_CLASSES} per scale, DDIM-${c.steps}, Griffin-Lim ${gl} iterations, seed ${c.seed}`,
    );
    const t0 = Date.now();
    try {
      const r = await evaluateAudio(unet, cls, {
        scales,
        perClass,
        steps: c.steps as number,
        seed: c.seed,
        batchSize: c.batch,
        glIterations: gl,
        log: (l) => console.log(l),
      });
      const best = r.points.reduce((a, b) => (b.pitchWithinSemitone > a.pitchWithinSemitone ? b : a));
      const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
      return {
        lesson: '16',
        sampler: 'ddim',
        steps: r.steps,
        n: r.n,
        griffin_lim_iterations: gl,
        seed: c.seed,
        backend,
        seconds: Math.round((Date.now() - t0) / 1000),
        real: {
          pitch_exact: r4(r.real.pitchExact),
          pitch_within_semitone: r4(r.real.pitchWithinSemitone),
          instrument_accuracy: r4(r.real.instrumentAccuracy),
        },
        fd_floor: r4(r.real.fdFloor),
        ...(r.real.fdFloorSpread ? { fd_floor_spread: r4(r.real.fdFloorSpread.std) } : {}),
        scales: r.points.map((p) => ({
          scale: p.scale,
          pitch_exact: r4(p.pitchExact),
          pitch_within_semitone: r4(p.pitchWithinSemitone),
          median_cents: Math.round(p.medianCents * 10) / 10,
          instrument_accuracy: r4(p.instrumentAccuracy),
          fd: r4(p.fd),
          ...(p.fdSpread ? { fd_spread: r4(p.fdSpread.std), fd_ci: [r4(p.fdSpread.lo), r4(p.fdSpread.hi)] } : {}),
          seconds: Math.round(p.seconds * 10) / 10,
        })),
        goal: 'pitch_within_semitone >= 0.9 at some scale',
        goal_reached: best.pitchWithinSemitone >= 0.9,
        best_scale: best.scale,
      };
    } finally {
      unet.dispose();
      cls.dispose();
    }
  },
};

export const AUDIO_EVALS: Record<string, LessonEval> = { '16': lesson16 };
