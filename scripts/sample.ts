// Writes a shipped model's samples, for anyone's own metrics.
//
//   npm run sample -- <lesson> --n N [--steps S] [--sampler NAME] [--guidance W] [--class C] [--seed K]
//                     [--batch B] [--checkpoint FILE] --out FILE.npy|DIR
//
// Lessons: 05 (the unconditional UNet), 06 (lesson 05's UNet guided by the noisy classifier), 07
// (classifier-free guidance of the class-conditional UNet). --out FILE.npy writes float32 in [-1, 1],
// shape N×28×28, and for 06/07 FILE.labels.npy (uint8, N); --out DIR writes DIR/000000.png, … and
// DIR/labels.json. Without --class, image i asks for class i mod 10.
// Defaults: --sampler ddim, --steps 50, --seed 0, --batch 100; --guidance 4 (06) or 2 (07), each
// lesson's best-FID scale in its shipped sweep. The starting noise of batch b depends on (seed, b)
// only (lib/eval/batched_sampling.ts), so the same command writes the same samples.
// The progress bar and the backend line go to stderr; stdout gets one line naming what was written.
// Exit status: 0 done, 1 sampling failed (e.g. missing checkpoint), 2 bad command line.
import { formatBackendReport, initBackend } from '../lib/runtime/backend';
import { loadPretrained, PretrainedId, pretrainedPath } from '../lib/course/models';
import { sampleInBatches } from '../lib/eval/batched_sampling';
import { FASHION_CLASSES, guidanceSchedule, sampleGuided } from '../lib/eval/guidance_sweep';
import { lesson05Schedule } from '../lib/eval/lesson05';
import { sampleTarget, writeSamples } from '../lib/eval/sample_export';
import { NoisyClassifier } from '../lib/methods/guidance/noisy_classifier';
import { makeSampler, SAMPLER_NAMES, SamplerName } from '../lib/core/samplers/index';
import { unetModel } from '../lib/core/samplers/types';
import { UNet } from '../lib/core/unet/unet';
import { intValue, numValue, SEED_MAX, UsageError } from './flags';
import { fileFlag } from './eval_flags';

interface LessonSpec {
  summary: string;
  unet: PretrainedId;
  /** null: unconditional; otherwise the guidance method and its default scale. */
  guidance: { method: 'classifier' | 'cfg'; scale: number } | null;
}

const LESSONS: Record<string, LessonSpec> = {
  '05': { summary: 'unconditional UNet (Fashion-MNIST)', unet: '05/unet', guidance: null },
  '06': {
    summary: "classifier guidance: lesson 05's UNet + the noisy classifier (labels written beside)",
    unet: '05/unet',
    guidance: { method: 'classifier', scale: 4 },
  },
  '07': {
    summary: 'classifier-free guidance of the class-conditional UNet (labels written beside)',
    unet: '07/cfg-unet',
    guidance: { method: 'cfg', scale: 2 },
  },
};

const USAGE =
  'usage: npm run sample -- <lesson> --n N [--steps S] [--sampler ddim|ddpm|dpm++2m|plms] [--guidance W] ' +
  '[--class C] [--seed K] [--batch B] [--checkpoint FILE] --out FILE.npy|DIR';

interface Args {
  lesson: string;
  spec: LessonSpec;
  n: number;
  steps: number;
  sampler: SamplerName;
  guidance: number | null;
  classId: number | null;
  seed: number;
  batch: number;
  checkpoint: string | null;
  out: string;
}

function classValue(v: string | undefined): number {
  const names = FASHION_CLASSES.map((c) => c.toLowerCase());
  const byName = names.indexOf((v ?? '').toLowerCase());
  if (byName >= 0) return byName;
  if (v !== undefined && /^\d+$/.test(v) && Number(v) < FASHION_CLASSES.length) return Number(v);
  const list = FASHION_CLASSES.join(', ');
  throw new UsageError(
    `--class needs a label 0-${FASHION_CLASSES.length - 1} or a class name (${list}), got '${v ?? ''}'`,
  );
}

function parseArgs(argv: string[]): Args | null {
  const [lesson, ...rest] = argv;
  if (lesson === '--help' || lesson === '-h') return null;
  if (!lesson || lesson.startsWith('-')) throw new UsageError('which lesson? (05, 06 or 07)');
  const spec = LESSONS[lesson];
  if (!spec) throw new UsageError(`unknown lesson '${lesson}': samples come from ${Object.keys(LESSONS).join(', ')}`);
  const a: Args = {
    lesson,
    spec,
    n: 0,
    steps: 50,
    sampler: 'ddim',
    guidance: null,
    classId: null,
    seed: 0,
    batch: 100,
    checkpoint: null,
    out: '',
  };
  for (let i = 0; i < rest.length; i++) {
    const f = rest[i];
    const next = () => rest[++i];
    if (f === '--n') a.n = intValue(f, next(), 1, 100000);
    else if (f === '--steps') a.steps = intValue(f, next(), 1, 1000);
    else if (f === '--seed') a.seed = intValue(f, next(), 0, SEED_MAX);
    else if (f === '--batch') a.batch = intValue(f, next(), 1, 10000);
    else if (f === '--sampler') {
      const v = next();
      if (!v || !(SAMPLER_NAMES as readonly string[]).includes(v))
        throw new UsageError(`--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got '${v ?? ''}'`);
      a.sampler = v as SamplerName;
    } else if (f === '--guidance') a.guidance = numValue(f, next(), 0, 100);
    else if (f === '--class') a.classId = classValue(next());
    else if (f === '--checkpoint') a.checkpoint = fileFlag(f, next());
    else if (f === '--out') a.out = next() ?? '';
    else throw new UsageError(`unknown flag '${f}'`);
  }
  if (a.n === 0) throw new UsageError('--n N (how many samples) is required');
  if (!a.out) throw new UsageError('--out FILE.npy or --out DIR is required');
  if (!spec.guidance && (a.guidance !== null || a.classId !== null))
    throw new UsageError(`lesson ${lesson} is unconditional: --guidance and --class apply to lessons 06 and 07`);
  return a;
}

async function run(a: Args): Promise<string> {
  const target = sampleTarget(a.out); // before the backend and the model: a bad path costs nothing
  const report = await initBackend();
  console.error(formatBackendReport(report));
  const file = a.checkpoint ?? pretrainedPath(a.spec.unet);
  let unet: UNet | null = null;
  let clf: NoisyClassifier | null = null;
  try {
    unet = (await loadPretrained(a.spec.unet, file)) as UNet;
    if (a.spec.guidance?.method === 'classifier') clf = await loadPretrained('06/noisy-classifier');
    const g = a.spec.guidance;
    const scale = a.guidance ?? g?.scale ?? 0;
    const labels = g ? Array.from({ length: a.n }, (_, i) => a.classId ?? i % FASHION_CLASSES.length) : null;
    const schedule = g ? guidanceSchedule() : lesson05Schedule();
    const sampler = makeSampler(a.sampler, schedule);
    const m = unet;
    const what = g ? `, ${g.method} guidance ${scale}${a.classId !== null ? `, class ${a.classId}` : ''}` : '';
    console.error(`lesson ${a.lesson}: ${file}, ${a.sampler}-${a.steps}, n = ${a.n}, seed ${a.seed}${what}`);
    const { images } = await sampleInBatches(
      {
        n: a.n,
        batchSize: a.batch,
        seed: a.seed,
        imageShape: [28, 28, 1],
        steps: a.steps,
        label: `sample ${a.lesson}`,
        progress: 'stderr',
      },
      // awaited in case sampleGuided turns async (issue #29); awaiting a plain value changes nothing
      async (b) =>
        g && labels
          ? (
              await sampleGuided(
                { method: g.method, unet: m, classifier: clf ?? undefined },
                schedule,
                labels.slice(b.start, b.start + b.size),
                scale,
                {
                  sampler: a.sampler,
                  steps: a.steps,
                  rng: b.rng,
                  xT: b.xT,
                  onStep: b.onStep,
                },
              )
            ).x
          : sampler.sample(unetModel(m), [b.size, 28, 28, 1], {
              steps: a.steps,
              rng: b.rng,
              xT: b.xT,
              onStep: b.onStep,
            }),
    );
    try {
      const data = (await images.data()) as Float32Array;
      const written = writeSamples(target, data, [a.n, 28, 28, 1], labels, FASHION_CLASSES);
      const where =
        target.kind === 'npy' ? written.join(' and ') : `${target.dir} (${a.n} PNGs${labels ? ' + labels.json' : ''})`;
      return `wrote ${a.n} samples to ${where}`;
    } finally {
      images.dispose();
    }
  } finally {
    unet?.dispose();
    clf?.dispose();
  }
}

function lessonList(): string {
  return Object.entries(LESSONS)
    .map(([k, s]) => `  ${k}  ${s.summary}`)
    .join('\n');
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a) console.log(await run(a));
  else console.log(`${USAGE}\n${lessonList()}`);
}

main().catch((e: Error) => {
  if (e instanceof UsageError) {
    // One line, no stack: what was wrong and where the usage is.
    console.error(`sample: ${e.message} (npm run sample -- --help)`);
    process.exit(2);
  }
  console.error(`sample: ${e.message}`);
  process.exit(1);
});
