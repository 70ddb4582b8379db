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
//   --samplers LIST    name:steps,... from ddpm, ddim, dpm++2m; the first is the headline [ddim:50]
//   --all              the lesson's full comparison: ddim:50,ddim:10,ddim:20,ddim:100,dpm++2m:10,dpm++2m:20
//   --seed N           fixes the starting noise and the real images compared against [0]
//   --batch N          images per network call [100]
//   --checkpoint FILE  model to evaluate [checkpoints/05/model.safetensors]
import { formatBackendReport, initBackend } from '../lib/backend';
import { compareSamplers, disposeResults, formatResultsTable, lesson05CheckpointPath, lesson05Schedule, loadLesson05Model, parseSamplerSpecs, resultRecord, SamplerSpec } from '../lib/eval/lesson05';
import { unetModel } from '../lib/samplers/types';

/** A bad command line: printed with the usage, exit status 2. */
class UsageError extends Error {}

interface LessonEval {
  summary: string;
  flags: string;
  /** Runs the evaluation (backend already initialised) and returns the headline record. */
  run(argv: string[], backend: string): Promise<Record<string, unknown>>;
}

function intFlag(flag: string, v: string | undefined, min: number): number {
  const x = Number(v);
  if (v === undefined || !Number.isInteger(x) || x < min) throw new UsageError(`${flag} needs an integer >= ${min}, got '${v ?? ''}'`);
  return x;
}

const LESSON05_ALL = 'ddim:50,ddim:10,ddim:20,ddim:100,dpm++2m:10,dpm++2m:20';

const lesson05: LessonEval = {
  summary: 'unconditional Fashion-MNIST UNet: FID/KID (with the real-vs-real floor) and wall time per sampler',
  flags: '[--n N] [--samplers ddim:50,...] [--all] [--seed N] [--batch N] [--checkpoint FILE]',
  async run(argv, backend) {
    let n = 1000;
    let seed = 0;
    let batch = 100;
    let file = lesson05CheckpointPath();
    let specs: SamplerSpec[] = [{ sampler: 'ddim', steps: 50 }];
    for (let i = 0; i < argv.length; i++) {
      const f = argv[i];
      const next = () => argv[++i];
      switch (f) {
        case '--n': n = intFlag(f, next(), 2); break;
        case '--seed': seed = intFlag(f, next(), 0); break;
        case '--batch': batch = intFlag(f, next(), 1); break;
        case '--all': specs = parseSamplerSpecs(LESSON05_ALL); break;
        case '--samplers': {
          const v = next();
          if (!v) throw new UsageError('--samplers needs a list such as ddim:50,dpm++2m:20');
          try {
            specs = parseSamplerSpecs(v);
          } catch (e) {
            throw new UsageError((e as Error).message);
          }
          break;
        }
        case '--checkpoint': {
          const v = next();
          if (!v) throw new UsageError('--checkpoint needs a file');
          file = v;
          break;
        }
        default:
          throw new UsageError(`unknown flag '${f}' for lesson 05`);
      }
    }
    if (n > 10000) throw new UsageError(`--n ${n} exceeds the 10,000 real test images FID compares against`);
    const unet = loadLesson05Model(file);
    console.log(`lesson 05: ${file} (${unet.paramCount.toLocaleString('en')} parameters), n = ${n}, seed ${seed}`);
    try {
      const results = compareSamplers(unetModel(unet, 'eps'), lesson05Schedule(), specs, {
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

/** Lesson number -> its evaluation. */
const EVALS: Record<string, LessonEval> = {
  '05': lesson05,
};

function usageText(): string {
  const lines = Object.entries(EVALS).map(([k, e]) => `  ${k}  ${e.summary}\n      flags: ${e.flags}`);
  return `usage: npm run eval -- <lesson> [flags]   (see scripts/eval.ts)\nlessons:\n${lines.join('\n')}`;
}

async function main(): Promise<void> {
  const [lesson, ...rest] = process.argv.slice(2);
  if (!lesson || lesson.startsWith('-')) throw new UsageError('which lesson?');
  const entry = EVALS[lesson];
  if (!entry) throw new UsageError(`unknown lesson '${lesson}': known lessons are ${Object.keys(EVALS).join(', ')}`);
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
