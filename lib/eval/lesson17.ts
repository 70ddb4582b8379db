// Lesson 17's measurement, shared by the notebook and `npm run eval -- 17`: the first n captions of the
// held-out clips (video-shapes/test), sampled at each guidance scale from the same starting noise, every
// frame read by the exact shapes detector (video_motion.ts): the share of clips whose object, colour and
// motion match the caption, and frame consistency. The real clips behind those captions, read the same
// way, give the detector's own ceiling.
import * as tf from '@tensorflow/tfjs-core';
import '../core/tfjs_setup';
import { Denoiser } from '../core/unet/denoiser';
import { loadVideoShapes, VideoSet } from '../../datasets/video_shapes';
import { sampleVideo } from '../methods/video/sample_video';
import { VideoCondition } from '../methods/video/temporal_hook';
import { VideoMotionGroup, VideoMotionReport, videoMotionScore } from './video_motion';

export interface VideoEvalOptions {
  /** Guidance scales, each sampled from the same noise. */
  scales: number[];
  /** Clips per scale: the first n test captions. */
  n: number;
  /** DDIM steps. */
  steps: number;
  seed: number;
  /** Clips per network call (each is `frames` images, twice with guidance). */
  batchClips: number;
  frames?: number;
  log?: (line: string) => void;
}

export interface VideoEvalPoint {
  scale: number;
  report: VideoMotionReport;
  /** Sampled clips, n * frames * 32 * 32 * 3 values in [-1, 1], clip after clip. */
  clips: Float32Array;
  seconds: number;
}

export interface VideoEvalResult {
  captions: string[];
  frames: number;
  steps: number;
  /** The detector on the real clips of the same captions. */
  real: VideoMotionReport;
  points: VideoEvalPoint[];
}

async function sampleClips(
  model: Denoiser<VideoCondition>,
  captions: string[],
  scale: number,
  o: VideoEvalOptions,
  frames: number,
): Promise<Float32Array> {
  const size = model.config.imageSize;
  const per = frames * size * size * 3;
  const out = new Float32Array(captions.length * per);
  for (let i = 0; i < captions.length; i += o.batchClips) {
    const part = captions.slice(i, i + o.batchClips);
    // Each batch's noise comes from (seed, batch index), so a clip's sample does not depend on the scale.
    const x = sampleVideo(model, part, frames, { guidance: scale, steps: o.steps, seed: o.seed * 100003 + i });
    out.set(await x.data(), i * per);
    x.dispose();
  }
  return out;
}

export async function evaluateVideo(model: Denoiser<VideoCondition>, o: VideoEvalOptions): Promise<VideoEvalResult> {
  const frames = o.frames ?? 8;
  if (!(Number.isInteger(o.n) && o.n >= 1)) throw new Error(`evaluateVideo: n must be an integer >= 1, got ${o.n}`);
  if (o.scales.length === 0) throw new Error('evaluateVideo: no guidance scales');
  const set: VideoSet = loadVideoShapes('test', { count: o.n, frames });
  const captions = set.captions;
  const real = videoMotionScore(captions, set.clips, { frames });
  const points: VideoEvalPoint[] = [];
  for (const scale of o.scales) {
    const t0 = Date.now();
    const before = tf.memory().numTensors;
    const clips = await sampleClips(model, captions, scale, o, frames);
    if (tf.memory().numTensors !== before) throw new Error('evaluateVideo: sampling leaked tensors');
    const report = videoMotionScore(captions, clips, { frames });
    const seconds = (Date.now() - t0) / 1000;
    points.push({ scale, report, clips, seconds });
    o.log?.(`w = ${scale}: ${formatGroup(report.overall)} (${seconds.toFixed(0)} s)`);
  }
  return { captions, frames, steps: o.steps, real, points };
}

const pct = (x: number) => (Number.isNaN(x) ? '-'.padStart(7) : `${(100 * x).toFixed(1).padStart(5)} %`);

/** One line: motion, object, colour, all right, and frame consistency. */
export function formatGroup(g: VideoMotionGroup): string {
  return (
    `motion ${pct(g.motion)}  object ${pct(g.object)}  colour ${pct(g.colour)}  all ${pct(g.all)}  ` +
    `consistency ${pct(g.consistency)}  (${g.clips} clips)`
  );
}

/** The per-motion table: one row per requested motion, one column group per scale (motion share). */
export function formatVideoTable(r: VideoEvalResult): string {
  const motions = Object.keys(r.real.byMotion) as (keyof VideoMotionReport['byMotion'])[];
  const head = ['motion'.padEnd(9), 'clips', 'real'.padStart(7), ...r.points.map((p) => `w=${p.scale}`.padStart(7))];
  const rows = motions.map((m) => [
    m.padEnd(9),
    String(r.real.byMotion[m].clips).padStart(5),
    pct(r.real.byMotion[m].motion),
    ...r.points.map((p) => pct(p.report.byMotion[m].motion)),
  ]);
  const all = [
    'all'.padEnd(9),
    String(r.real.overall.clips).padStart(5),
    pct(r.real.overall.motion),
    ...r.points.map((p) => pct(p.report.overall.motion)),
  ];
  return [head, ...rows, all].map((row) => row.join('  ')).join('\n');
}

const r4 = (x: number) => (Number.isNaN(x) ? null : Math.round(x * 1e4) / 1e4);

function groupRecord(g: VideoMotionGroup): Record<string, number | null> {
  return {
    motion: r4(g.motion),
    object: r4(g.object),
    colour: r4(g.colour),
    all: r4(g.all),
    consistency: r4(g.consistency),
  };
}

/** The JSON record `npm run eval -- 17` ends with; the goal is the (motion right on >= 80 %). */
export function videoRecord(r: VideoEvalResult): Record<string, unknown> {
  const best = r.points.reduce((a, b) => (b.report.overall.motion > a.report.overall.motion ? b : a));
  return {
    n: r.captions.length,
    frames: r.frames,
    sampler: 'ddim',
    steps: r.steps,
    real: groupRecord(r.real.overall),
    scales: r.points.map((p) => ({
      scale: p.scale,
      ...groupRecord(p.report.overall),
      by_motion: Object.fromEntries(Object.entries(p.report.byMotion).map(([m, g]) => [m, r4(g.motion)])),
      seconds: Math.round(p.seconds),
    })),
    goal: 'motion >= 0.8 of one-object captions at some scale',
    goal_reached: best.report.overall.motion >= 0.8,
    best_scale: best.scale,
  };
}
