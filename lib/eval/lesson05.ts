// Lesson 05's measurement, shared by the notebook and `npm run eval -- 05`: run several samplers at
// several step counts on one model, from the SAME starting noise, and report for each the samples,
// the sampling wall time and FID/KID next to the real-vs-real floor at the same n.
// Same x_T for every run: deterministic samplers (DDIM with eta 0, DPM-Solver++) then give images
// that can be compared one by one, and the FID differences come from the sampler, not the noise.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import type { PlotTrace } from '../course/display/plot_types';
import { fidReport, FidReport, fidSpreadRecord } from './metrics/report';
import { formatFidWithSpread } from './metrics/fid_bootstrap';
import { sampleInBatches } from './batched_sampling';
import { FashionClassifier } from './metrics/classifier';
import { SAMPLER_NAMES, SamplerName, makeSampler } from '../core/samplers/index';
import { DiffusionModel } from '../core/samplers/types';
import { linearSchedule, NoiseSchedule } from '../core/schedule';

/** The schedule lesson 05's model is trained with (scripts/train.ts): linear betas, T = 1000. */
export function lesson05Schedule(): NoiseSchedule {
  return linearSchedule(1000);
}

/** One row of the comparison: a sampler, its number of network evaluations, and optionally its own n. */
export interface SamplerSpec {
  sampler: SamplerName;
  steps: number;
  /** Images for this run (default: the comparison's n), e.g. fewer for the slow DDPM-1000. */
  n?: number;
  /** false: samples and time only, no FID/KID (e.g. for a handful of images, where FID means nothing). */
  fid?: boolean;
}

/** 'ddim:50,dpm++2m:20,ddpm:1000' -> specs (the eval script's --samplers flag). */
export function parseSamplerSpecs(text: string): SamplerSpec[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new Error(`no samplers in '${text}': write e.g. ddim:50,dpm++2m:20`);
  return parts.map((p) => {
    const m = /^([a-z+0-9]+):(\d+)$/.exec(p);
    if (!m) throw new Error(`sampler '${p}' is not name:steps (e.g. ddim:50)`);
    if (!(SAMPLER_NAMES as readonly string[]).includes(m[1]))
      throw new Error(`unknown sampler '${m[1]}' in '${p}': use ${SAMPLER_NAMES.join(', ')}`);
    const steps = Number(m[2]);
    if (steps < 1 || steps > 1000) throw new Error(`steps in '${p}' must be in [1, 1000]`);
    return { sampler: m[1] as SamplerName, steps };
  });
}

export interface CompareOptions {
  /** Images per run (default 100); a spec's own n overrides it. */
  n?: number;
  /** Fixes x_T (and DDPM's per-step noise) and the real images FID compares against. Default 0. */
  seed?: number;
  /** Images per network call (default 100): memory vs speed. */
  batchSize?: number;
  /** How many of each run's samples to return for grids (default 16). */
  keep?: number;
  /** Compute FID/KID and their floor (default true). */
  fid?: boolean;
  /** Feature network for FID (default: the committed classifier). */
  classifier?: FashionClassifier;
  /** Progress bar (default true); 'stderr' writes it to stderr (scripts keep stdout for results). */
  progress?: boolean | 'stderr';
  /** Image side and channels (default [28, 28, 1]: Fashion-MNIST). */
  imageShape?: [number, number, number];
  /** Called after each run, e.g. to print its row at once. */
  onResult?: (r: SamplerRunResult) => void;
}

export interface SamplerRunResult {
  sampler: SamplerName;
  steps: number;
  n: number;
  /** Wall time of sampling alone (all n images, not the FID), seconds. */
  seconds: number;
  /** The first `keep` samples in [-1, 1]; free them with disposeResults. */
  samples: tf.Tensor4D;
  /** Null when fid is off (option or spec). */
  fid: FidReport | null;
}

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min)
    throw new Error(`compareSamplers: ${name} must be an integer >= ${min}, got ${v}`);
}

/**
 * Samples n images with each spec in turn and measures them. Runs are sequential on purpose: their
 * wall times are then comparable (one process, one backend, nothing else of ours running).
 */
export async function compareSamplers(
  model: DiffusionModel,
  schedule: NoiseSchedule,
  specs: SamplerSpec[],
  opts: CompareOptions = {},
): Promise<SamplerRunResult[]> {
  const n0 = opts.n ?? 100;
  const seed = opts.seed ?? 0;
  const batchSize = opts.batchSize ?? 100;
  const keep = opts.keep ?? 16;
  checkCount('n', n0, 2);
  checkCount('batchSize', batchSize, 1);
  checkCount('keep', keep, 0);
  if (!Number.isInteger(seed)) throw new Error(`compareSamplers: seed must be an integer, got ${seed}`);
  if (specs.length === 0) throw new Error('compareSamplers: no samplers to compare');
  const [h, w, c] = opts.imageShape ?? [28, 28, 1];
  const results: SamplerRunResult[] = [];
  try {
    for (const spec of specs) {
      const n = spec.n ?? n0;
      checkCount(`n of ${spec.sampler}-${spec.steps}`, n, 2);
      const sampler = makeSampler(spec.sampler, schedule);
      const { images: all, seconds } = await sampleInBatches(
        {
          n,
          batchSize,
          seed,
          imageShape: [h, w, c],
          steps: spec.steps,
          label: `${spec.sampler}-${spec.steps}`,
          progress: opts.progress,
        },
        (b) => sampler.sample(model, [b.size, h, w, c], { steps: spec.steps, rng: b.rng, xT: b.xT, onStep: b.onStep }),
      );
      let fid: FidReport | null = null;
      try {
        if (opts.fid !== false && spec.fid !== false)
          fid = await fidReport(all, { n, seed, classifier: opts.classifier });
      } catch (e) {
        all.dispose();
        throw e;
      }
      const samples = tf.slice(all, 0, Math.min(keep, n)) as tf.Tensor4D;
      all.dispose();
      const r: SamplerRunResult = { sampler: spec.sampler, steps: spec.steps, n, seconds, samples, fid };
      results.push(r);
      opts.onResult?.(r);
    }
  } catch (e) {
    disposeResults(results);
    throw e;
  }
  return results;
}

export function disposeResults(results: SamplerRunResult[]): void {
  for (const r of results) r.samples.dispose();
}

const LABELS: Record<SamplerName, string> = { ddim: 'DDIM', ddpm: 'DDPM', 'dpm++2m': 'DPM-Solver++(2M)', plms: 'PLMS' };

/** 'DDIM-50', 'DPM-Solver++(2M)-20', 'DDPM-1000', 'PLMS-50' (the number: network evaluations). */
export function runLabel(r: { sampler: SamplerName; steps: number }): string {
  return `${LABELS[r.sampler]}-${r.steps}`;
}

/**
 * A fixed-width text table: sampler, steps, n, FID (floor), KID (floor), seconds, ms per image. FIDs carry
 * their bootstrap spread (± one standard deviation over the n images).
 */
export function formatResultsTable(results: SamplerRunResult[]): string {
  const head = ['sampler', 'steps', 'n', 'FID', 'FID floor', 'KID', 'KID floor', 'seconds', 'ms/image'];
  const rows = results.map((r) => [
    runLabel(r).replace(/-\d+$/, ''),
    String(r.steps),
    String(r.n),
    r.fid ? formatFidWithSpread(r.fid.fid, r.fid.spread, 2) : '-',
    r.fid ? formatFidWithSpread(r.fid.floor, r.fid.floorSpread, 2) : '-',
    r.fid ? r.fid.kid.toFixed(4) : '-',
    r.fid ? r.fid.floorKid.toFixed(4) : '-',
    r.seconds.toFixed(1),
    ((1000 * r.seconds) / r.n).toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The result as the eval script's JSON record (one line, the lesson's headline numbers). */
export function resultRecord(r: SamplerRunResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    lesson: '05',
    sampler: r.sampler,
    steps: r.steps,
    fid: r.fid ? round(r.fid.fid, 3) : null,
    fid_floor: r.fid ? round(r.fid.floor, 3) : null,
    ...fidSpreadRecord(r.fid),
    kid: r.fid ? round(r.fid.kid, 5) : null,
    kid_floor: r.fid ? round(r.fid.floorKid, 5) : null,
    n: r.n,
    seconds: round(r.seconds, 2),
    ...extra,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Plotly traces of FID against steps, one line per sampler, plus the floor as a dashed line. */
export function fidVsStepsTraces(results: SamplerRunResult[]): PlotTrace[] {
  // FID is only comparable at equal n: plot the runs at the first run's n (with that n's floor).
  const withFid = results.filter((r) => r.fid !== null && r.n === results[0].n);
  const names = [...new Set(withFid.map((r) => r.sampler))];
  const traces: PlotTrace[] = names.map((s) => {
    const rs = withFid.filter((r) => r.sampler === s).sort((a, b) => a.steps - b.steps);
    return {
      x: rs.map((r) => r.steps),
      y: rs.map((r) => r.fid!.fid),
      // ± one bootstrap standard deviation (drawn by plotly; the static fallback shows the line only).
      error_y: { type: 'data', array: rs.map((r) => r.fid!.spread?.std ?? 0), visible: true },
      name: runLabel(rs[0]).replace(/-\d+$/, ''),
      mode: 'lines+markers',
    };
  });
  if (withFid.length > 0) {
    const steps = withFid.map((r) => r.steps);
    const floor = withFid[0].fid!.floor;
    traces.push({
      x: [Math.min(...steps), Math.max(...steps)],
      y: [floor, floor],
      name: `real-vs-real floor (n = ${withFid[0].n})`,
      mode: 'lines',
      line: { dash: 'dash' },
    });
  }
  return traces;
}
