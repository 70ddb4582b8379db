// Recomputes a lesson's headline numbers from its shipped checkpoint (no training).
//
//   npm run eval -- <lesson> [flags]        (or: npx tsx scripts/eval.ts <lesson> [flags])
//
// Prints a backend line, a human-readable table, and ENDS with one JSON line holding the headline
// record (e.g. {"lesson":"05","sampler":"ddim","steps":50,"fid":...,"fid_floor":...,"kid":...,...}),
// so CI or a README table can take `tail -n 1`. Progress bars go to stderr.
// Exit status: 0 done, 1 the evaluation failed (e.g. missing checkpoint), 2 bad command line.
//
// Lessons register below in EVALS: a one-line summary, their flags, and a run function returning
// the headline record. Add a lesson by adding an entry.
//
// Lesson 05 flags (defaults in brackets):
//   --n N              images per sampler for FID/KID [1000]
//   --samplers LIST    name:steps,... from ddpm, ddim, dpm++2m, plms; the first is the headline [ddim:50]
//                      (steps = network evaluations; PLMS spends one on its corrector start)
//   --all              the lesson's full comparison: ddim:50,ddim:10,ddim:20,ddim:100,dpm++2m:10,dpm++2m:20,
//                      plms:10,plms:20
//   --seed N           fixes the starting noise and the real images compared against [0]
//   --batch N          images per network call [100]
//   --checkpoint FILE  model to evaluate [checkpoints/05/model.safetensors]
//
// Lessons 06 (classifier guidance of lesson 05's unconditional model with the noisy classifier) and
// 07 (classifier-free guidance of the class-conditional model): a sweep of the guidance scale, each
// scale sampling n images with balanced labels from the same starting noise, scored by the clean
// classifier's accuracy on the asked-for class and FID/KID next to the floor at the same n.
// Flags (defaults in brackets):
//   --n N              images per scale [500]
//   --scales LIST      guidance scales, e.g. 0,1,3 [06: 0,2,4,8,16; 07: 0,1,2,3,5]
//   --sampler NAME     ddim, ddpm, dpm++2m or plms [ddim]
//   --steps N          sampling steps [25]
//   --seed N, --batch N as for 05 [0, 100]
//   --checkpoint FILE  the UNet [06: checkpoints/05/model.safetensors; 07: checkpoints/07/model.safetensors]
//   --classifier FILE  06 only: the noisy classifier [checkpoints/06/noisy_classifier.safetensors]
//
// Lesson 08 (super-resolution): n test images down-sampled to each input size and super-resolved by
// bicubic, the regression UNet and SR3 (DDIM); PSNR, SSIM and FID per method. Flags:
//   --n N              test images per input size [500]
//   --sizes LIST       low-resolution sides [7,14] (7: 4x, the headline; 14: 2x)
//   --steps N          SR3's DDIM steps [50]
//   --sr3-mean K       also score the pixel mean of K SR3 samples per input [0: off]
//   --seed N, --batch N as for 05 [0, 100]
//   --sr3 FILE, --regression FILE  the models [checkpoints/08/sr3.safetensors, checkpoints/08/regression.safetensors]
// Lesson 09 (inpainting): n test images, one mask per image of each kind; mean and nearest fills,
// the mask-conditioned model (DDIM) and RePaint with lesson 05's model; hole MSE, FID, seconds. Flags:
//   --n N              test images per mask kind [200]
//   --kinds LIST       mask kinds [center,half,strokes]
//   --steps N          the conditional model's DDIM steps [50]
//   --repaint S:J:R    RePaint's steps, jump length, passes [50:5:2]
//   --sampling-seeds LIST  instead of the table: FID mean ± sd of the learned methods over these sampling seeds
//                      (same images and masks; e.g. 0,1,2,3)
//   --seed N, --batch N as for 05 [0, 100]
//   --inpaint FILE, --base FILE  the models [checkpoints/09/inpaint.safetensors, checkpoints/05/model.safetensors]
//
// Lessons 10-14 (text, latent, grounding): flags in scripts/eval_text.ts; lesson 15 (synthetic data for a
// classifier and a detector): flags in scripts/eval_apps.ts.
// Lesson 16 (sound: spectrogram diffusion with CFG): flags in scripts/eval_audio.ts; lesson 17 (video): scripts/eval_video.ts.
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { loadPretrained, pretrainedPath } from '../lib/course/models';
import {
  compareSamplers,
  disposeResults,
  formatResultsTable,
  lesson05Schedule,
  parseSamplerSpecs,
  resultRecord,
  SamplerSpec,
} from '../lib/eval/lesson05';
import { unetModel } from '../lib/core/samplers/types';
import {
  disposeSweep,
  formatSweepTable,
  guidanceSchedule,
  guidanceSweep,
  sweepRecord,
} from '../lib/eval/guidance_sweep';
import { NoisyClassifier } from '../lib/methods/guidance/noisy_classifier';
import { SAMPLER_NAMES, SamplerName } from '../lib/core/samplers/index';
import { UNet } from '../lib/core/unet/unet';
import { disposeSrResult, evaluateSuperResolution, formatSrTable, SrEvalResult, srRecord } from '../lib/eval/lesson08';
import {
  disposeInpaintResult,
  evaluateInpainting,
  formatFidSpread,
  formatInpaintTable,
  inpaintFidSpread,
  inpaintRecord,
} from '../lib/eval/lesson09';
import { MASK_KINDS, MaskKind } from '../lib/methods/inpaint/masks';
import { fileFlag, intFlag, LessonEval, scaleList, UsageError, walkFlags } from './eval_flags';
import { APP_EVALS } from './eval_apps';
import { AUDIO_EVALS } from './eval_audio';
import { VIDEO_EVALS } from './eval_video';
import { TEXT_EVALS } from './eval_text';

const LESSON05_ALL = 'ddim:50,ddim:10,ddim:20,ddim:100,dpm++2m:10,dpm++2m:20,plms:10,plms:20';

const lesson05: LessonEval = {
  summary: 'unconditional Fashion-MNIST UNet: FID/KID (with the real-vs-real floor) and wall time per sampler',
  flags: '[--n N] [--samplers ddim:50,...] [--all] [--seed N] [--batch N] [--checkpoint FILE]',
  async run(argv, backend) {
    let file = pretrainedPath('05/unet');
    let specs: SamplerSpec[] = [{ sampler: 'ddim', steps: 50 }];
    const samplerList = (v: string | undefined): SamplerSpec[] => {
      if (!v) throw new UsageError('--samplers needs a list such as ddim:50,dpm++2m:20');
      try {
        return parseSamplerSpecs(v);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    };
    const { n, seed, batch } = walkFlags(argv, '05', { n: 1000, seed: 0, batch: 100 }, 2, {
      '--all': () => (specs = parseSamplerSpecs(LESSON05_ALL)),
      '--samplers': (next) => (specs = samplerList(next())),
      '--checkpoint': (next, f) => (file = fileFlag(f, next())),
    });
    const unet = loadPretrained('05/unet', file);
    console.log(`lesson 05: ${file} (${unet.paramCount.toLocaleString('en')} parameters), n = ${n}, seed ${seed}`);
    try {
      const results = await compareSamplers(unetModel(unet, 'eps'), lesson05Schedule(), specs, {
        n,
        seed,
        batchSize: batch,
        keep: 0,
        progress: 'stderr',
      });
      console.log(formatResultsTable(results));
      const record = resultRecord(results[0], { backend });
      disposeResults(results);
      return record;
    } finally {
      unet.dispose();
    }
  },
};

/** Lessons 06 and 07: the guidance-scale sweep (lib/eval/guidance_sweep.ts). */
function guidanceEval(lesson: '06' | '07'): LessonEval {
  const isCfg = lesson === '07';
  return {
    summary: isCfg
      ? 'classifier-free guidance of the class-conditional UNet: class accuracy and FID/KID (with the floor) per guidance scale, and sampling cost'
      : "classifier guidance of lesson 05's UNet with the noisy classifier: class accuracy and FID/KID (with the floor) per guidance scale, and sampling cost",
    flags: `[--n N] [--scales ${isCfg ? '0,1,2,3,5' : '0,2,4,8,16'}] [--sampler ddim|ddpm|dpm++2m|plms] [--steps N] [--seed N] [--batch N] [--checkpoint FILE]${isCfg ? '' : ' [--classifier FILE]'}`,
    async run(argv, backend) {
      let sampler: SamplerName = 'ddim';
      let scales = isCfg ? [0, 1, 2, 3, 5] : [0, 2, 4, 8, 16];
      let file = pretrainedPath(isCfg ? '07/cfg-unet' : '05/unet');
      let clfFile = pretrainedPath('06/noisy-classifier');
      const c = walkFlags(argv, lesson, { n: 500, seed: 0, batch: 100, steps: 25 }, 10, {
        '--sampler': (next) => {
          const v = next();
          if (!v || !(SAMPLER_NAMES as readonly string[]).includes(v))
            throw new UsageError(`--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got '${v ?? ''}'`);
          sampler = v as SamplerName;
        },
        '--scales': (next) => {
          const v = next() ?? '';
          const xs = v
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x.length > 0)
            .map(Number);
          if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x < 0))
            throw new UsageError(`--scales needs a list of numbers >= 0 such as 0,1,3, got '${v}'`);
          scales = xs;
        },
        '--checkpoint': (next, f) => (file = fileFlag(f, next())),
        '--classifier': (next, f) => {
          if (isCfg) throw new UsageError('--classifier applies to lesson 06 only');
          clfFile = fileFlag(f, next());
        },
      });
      const { n, seed, batch } = c;
      const steps = c.steps as number;
      if (steps > 1000) throw new UsageError(`--steps ${steps} exceeds the schedule's T = 1000`);
      let unet: UNet | null = null;
      let clf: NoisyClassifier | null = null;
      try {
        unet = isCfg ? loadPretrained('07/cfg-unet', file) : loadPretrained('05/unet', file);
        clf = isCfg ? null : loadPretrained('06/noisy-classifier', clfFile);
        console.log(
          `lesson ${lesson}: ${file}${clf ? ` + ${clfFile}` : ''}, ${sampler}-${steps}, n = ${n} per scale, scales ${scales.join(', ')}, seed ${seed}`,
        );
        const points = await guidanceSweep(
          { method: isCfg ? 'cfg' : 'classifier', unet, classifier: clf ?? undefined },
          guidanceSchedule(),
          {
            scales,
            n,
            steps,
            sampler,
            seed,
            batchSize: batch,
            keep: 0,
            progress: 'stderr',
            onPoint: (p) =>
              console.error(
                `scale ${p.scale}: accuracy ${(100 * p.accuracy).toFixed(1)}%, FID ${p.fid ? p.fid.fid.toFixed(2) : '-'} (floor ${p.fid ? p.fid.floor.toFixed(2) : '-'}), ${p.seconds.toFixed(1)} s`,
              ),
          },
        );
        console.log(formatSweepTable(points));
        const record = sweepRecord(lesson, points, { sampler, steps, seed, backend });
        disposeSweep(points);
        return record;
      } finally {
        unet?.dispose();
        clf?.dispose();
      }
    },
  };
}

const lesson08: LessonEval = {
  summary: 'super-resolution 7x7 (4x) and 14x14 (2x) to 28x28: PSNR, SSIM, FID of bicubic, regression UNet and SR3',
  flags: '[--n N] [--sizes 7,14] [--steps N] [--sr3-mean K] [--seed N] [--batch N] [--sr3 FILE] [--regression FILE]',
  async run(argv, backend) {
    let sizes = [7, 14];
    let meanOf = 0;
    let sr3File = pretrainedPath('08/sr3');
    let regFile = pretrainedPath('08/regression');
    const c = walkFlags(argv, '08', { n: 500, seed: 0, batch: 100, steps: 50 }, 2, {
      '--sizes': (next, f) => (sizes = (next() ?? '').split(',').map((v) => intFlag(f, v, 1))),
      '--sr3-mean': (next, f) => (meanOf = intFlag(f, next(), 0)),
      '--sr3': (next, f) => (sr3File = fileFlag(f, next())),
      '--regression': (next, f) => (regFile = fileFlag(f, next())),
    });
    const { n, seed, batch } = c;
    const steps = c.steps as number;
    const sr3 = loadPretrained('08/sr3', sr3File);
    const reg = loadPretrained('08/regression', regFile);
    console.log(
      `lesson 08: ${sr3File} (${sr3.unet.paramCount.toLocaleString('en')} parameters), ${regFile} (${reg.unet.paramCount.toLocaleString('en')}), n = ${n}, DDIM-${steps}, seed ${seed}`,
    );
    const results: SrEvalResult[] = [];
    try {
      for (const lrSize of sizes) {
        results.push(
          await evaluateSuperResolution(sr3, reg, { n, seed, lrSize, steps, batchSize: batch, keep: 1, meanOf }),
        );
        console.error(`${lrSize}x${lrSize} done`);
      }
      console.log(formatSrTable(results));
      return srRecord(results, {
        sampler: 'ddim',
        steps,
        ...(meanOf > 1 ? { sr3_mean_of: meanOf } : {}),
        seed,
        backend,
      });
    } finally {
      results.forEach(disposeSrResult);
      sr3.unet.dispose();
      reg.unet.dispose();
    }
  },
};

const lesson09: LessonEval = {
  summary:
    'inpainting (center/half/strokes masks): hole MSE, FID, time of mean/nearest fills, the mask-conditioned model and RePaint',
  flags:
    '[--n N] [--kinds center,half,strokes] [--steps N] [--repaint S:J:R] [--sampling-seeds 0,1,2,3] [--seed N] [--batch N] [--inpaint FILE] [--base FILE]',
  async run(argv, backend) {
    let kinds: MaskKind[] = [...MASK_KINDS];
    let repaint = { steps: 50, jumpLength: 5, resamplings: 2 };
    let inpaintFile = pretrainedPath('09/inpaint');
    let baseFile = pretrainedPath('05/unet');
    let samplingSeeds: number[] | null = null;
    const c = walkFlags(argv, '09', { n: 200, seed: 0, batch: 100, steps: 50 }, 2, {
      '--kinds': (next) => {
        kinds = (next() ?? '').split(',') as MaskKind[];
        const bad = kinds.find((k) => !MASK_KINDS.includes(k));
        if (bad !== undefined)
          throw new UsageError(`--kinds: unknown mask kind '${bad}' (use ${MASK_KINDS.join(',')})`);
      },
      '--repaint': (next) => {
        const v = next() ?? '';
        const m = /^(\d+):(\d+):(\d+)$/.exec(v);
        if (!m) throw new UsageError(`--repaint needs steps:jump:passes such as 50:5:2, got '${v}'`);
        repaint = { steps: Number(m[1]), jumpLength: Number(m[2]), resamplings: Number(m[3]) };
      },
      '--inpaint': (next, f) => (inpaintFile = fileFlag(f, next())),
      '--base': (next, f) => (baseFile = fileFlag(f, next())),
      '--sampling-seeds': (next, f) => {
        samplingSeeds = scaleList(f, next());
        if (samplingSeeds.length < 2 || samplingSeeds.some((s) => !Number.isInteger(s)))
          throw new UsageError(`${f} needs at least two integer seeds such as 0,1,2,3`);
      },
    });
    const { n, seed, batch } = c;
    const steps = c.steps as number;
    const cond = loadPretrained('09/inpaint', inpaintFile);
    const base = loadPretrained('05/unet', baseFile);
    console.log(
      `lesson 09: ${inpaintFile} (${cond.paramCount.toLocaleString('en')} parameters), RePaint on ${baseFile} (${base.paramCount.toLocaleString('en')}), n = ${n}, seed ${seed}`,
    );
    try {
      if (samplingSeeds) {
        const models = { conditional: cond, unconditional: { unet: base, schedule: lesson05Schedule() } };
        const opts = { n, seed, kinds, steps, repaint, batchSize: batch, methods: ['conditional', 'repaint'] as const };
        const s = await inpaintFidSpread(models, samplingSeeds, opts);
        console.log(formatFidSpread(s.rows));
        return {
          lesson: '09',
          n,
          seed,
          sampling_seeds: samplingSeeds,
          original_fid: s.originalFid ? Math.round(s.originalFid.fid * 1000) / 1000 : null,
          fid_floor: s.originalFid ? Math.round(s.originalFid.floor * 1000) / 1000 : null,
          spread: s.rows.map((r) => ({ kind: r.kind, method: r.method, fids: r.fids, mean: r.mean, sd: r.sd })),
          conditional_sampler: `ddim:${steps}`,
          repaint,
          backend,
        };
      }
      const r = await evaluateInpainting(
        { conditional: cond, unconditional: { unet: base, schedule: lesson05Schedule() } },
        {
          n,
          seed,
          kinds,
          steps,
          repaint,
          batchSize: batch,
          keep: 1,
          onRow: (w) => console.error(`${w.kind} ${w.method}: ${w.seconds.toFixed(1)} s`),
        },
      );
      console.log(formatInpaintTable(r));
      const record = inpaintRecord(r, { conditional_sampler: `ddim:${steps}`, repaint, seed, backend });
      disposeInpaintResult(r);
      return record;
    } finally {
      cond.dispose();
      base.dispose();
    }
  },
};

/** Lesson number -> its evaluation. */
const EVALS: Record<string, LessonEval> = {
  '05': lesson05,
  '06': guidanceEval('06'),
  '07': guidanceEval('07'),
  '08': lesson08,
  '09': lesson09,
  ...TEXT_EVALS,
  ...APP_EVALS,
  ...AUDIO_EVALS,
  ...VIDEO_EVALS,
};

function usageText(): string {
  // Sorted: '10'-'14' are integer-like keys, which JavaScript objects list before '05'.
  const lines = Object.entries(EVALS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, e]) => `  ${k}  ${e.summary}\n      flags: ${e.flags}`);
  return `usage: npm run eval -- <lesson> [flags]   (see scripts/eval.ts)\nlessons:\n${lines.join('\n')}`;
}

async function main(): Promise<void> {
  const [lesson, ...rest] = process.argv.slice(2);
  if (!lesson || lesson.startsWith('-')) throw new UsageError('which lesson?');
  const entry = EVALS[lesson];
  if (!entry)
    throw new UsageError(`unknown lesson '${lesson}': known lessons are ${Object.keys(EVALS).sort().join(', ')}`);
  const report = await initBackend();
  console.log(formatBackendReport(report));
  const record = await entry.run(rest, report.backend);
  // Last line of stdout, always: the machine-readable result.
  console.log(JSON.stringify(record));
}

main().catch((e: Error) => {
  if (e instanceof UsageError) {
    console.error(`eval: ${e.message}\n${usageText()}`);
    process.exit(2);
  }
  console.error(`eval: ${e.message}`);
  process.exit(1);
});
