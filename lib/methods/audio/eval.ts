// Lesson 16's measurement, shared by the notebook and `npm run eval -- 16`: n spectrograms with
// balanced (pitch, instrument) labels at each guidance scale, from the same starting noise, scored by
//   pitch       the autocorrelation pitch (pitch.ts) of each sample's Griffin-Lim waveform, i.e. of the
//               sound one hears, not of the image: a spectrogram with its harmonics one row off, or
//               smeared so no period survives, fails here even if its brightest row looks right;
//   instrument  the instrument classifier's accuracy on the asked-for instrument;
//   FD          the Fréchet distance on that classifier's features against held-out real clips, read
//               next to its real-vs-real floor at the same n.
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { UNet } from '../../core/unet/unet';
import { featureStats, frechetDistance } from '../../eval/metrics/fid';
import { fidSpread, FidSpread, formatFidWithSpread } from '../../eval/metrics/fid_bootstrap';
import { SAMPLE_RATE } from './clip';
import { makeAudioSet, midiOf, NUM_CLASSES, splitLabel } from './dataset';
import { InstrumentClassifier } from './instrument_classifier';
import { centsFrom, estimatePitch } from './pitch';
import { generateSpectrograms } from './sample';
import { BANDS } from './semitone_filterbank';
import { spectrogramToWave } from './vocode';

/** Spectrogram images (count x BANDS x BANDS, [-1, 1]) as an NHWC tensor. */
export function imagesTensor(images: Float32Array): tf.Tensor4D {
  const per = BANDS * BANDS;
  if (images.length === 0 || images.length % per !== 0)
    throw new Error(`imagesTensor: ${images.length} values are not whole ${BANDS}x${BANDS} images`);
  return tf.tensor4d(images, [images.length / per, BANDS, BANDS, 1]);
}

/** Fraction of spectrograms the classifier assigns to the given instrument. */
export async function instrumentAccuracy(
  cls: InstrumentClassifier,
  images: Float32Array,
  instruments: ArrayLike<number>,
): Promise<number> {
  const x = imagesTensor(images);
  const p = await cls.predict(x);
  x.dispose();
  if (p.length !== instruments.length)
    throw new Error(`instrumentAccuracy: ${instruments.length} labels for ${p.length} images`);
  let ok = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === instruments[i]) ok++;
  return ok / p.length;
}

/** Pitch of each spectrogram image's Griffin-Lim waveform, against the asked-for pitch indices. */
export interface PitchScore {
  /** |error| < 50 cents: the nearest note is the asked one. */
  exact: number;
  /** |error| < 100 cents: within a semitone of the asked note (the goal). */
  withinSemitone: number;
  /** Median |error| in cents. */
  medianCents: number;
  /** Signed errors in cents, one per image. */
  cents: number[];
}

export async function pitchScore(
  images: Float32Array,
  pitches: ArrayLike<number>,
  o: { iterations?: number; seed?: number } = {},
): Promise<PitchScore> {
  const per = BANDS * BANDS;
  const n = images.length / per;
  if (n !== pitches.length) throw new Error(`pitchScore: ${pitches.length} pitches for ${n} images`);
  const cents: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = spectrogramToWave(images.subarray(i * per, (i + 1) * per), { iterations: o.iterations, seed: o.seed });
    let c: number;
    try {
      c = centsFrom(estimatePitch(w, { sampleRate: SAMPLE_RATE }).hz, midiOf(pitches[i]));
    } catch {
      c = Infinity; // a silent sample: no pitch, counted wrong
    }
    cents.push(c);
  }
  const abs = cents.map(Math.abs).sort((a, b) => a - b);
  return {
    exact: abs.filter((c) => c < 50).length / n,
    withinSemitone: abs.filter((c) => c < 100).length / n,
    medianCents: abs[Math.floor(n / 2)],
    cents,
  };
}

/** Fréchet distance between two image sets in the instrument classifier's feature space. */
export async function featureFrechet(cls: InstrumentClassifier, a: Float32Array, b: Float32Array): Promise<number> {
  return (await featureFrechetSpread(cls, a, b, 0)).fd;
}

/**
 * The same, with the bootstrap spread of the distance over set a's n clips against b's fixed statistics
 * (lib/eval/metrics/fid_bootstrap.ts; null when resamples is 0).
 */
export async function featureFrechetSpread(
  cls: InstrumentClassifier,
  a: Float32Array,
  b: Float32Array,
  resamples = 200,
): Promise<{ fd: number; spread: FidSpread | null }> {
  const features = (imgs: Float32Array) => {
    const x = imagesTensor(imgs);
    const f = cls.features(x);
    x.dispose();
    return f;
  };
  const fa = features(a);
  const fb = features(b);
  try {
    const real = await featureStats(fb);
    const fd = frechetDistance(await featureStats(fa), real);
    return { fd, spread: resamples > 0 ? await fidSpread(fa, real, fd, { resamples }) : null };
  } finally {
    fa.dispose();
    fb.dispose();
  }
}

export interface AudioEvalOptions {
  scales: number[];
  /** Samples per class (36 classes) at each scale. */
  perClass: number;
  steps: number;
  seed?: number;
  batchSize?: number;
  glIterations?: number;
  log?: (line: string) => void;
}

export interface AudioEvalPoint {
  scale: number;
  n: number;
  pitchExact: number;
  pitchWithinSemitone: number;
  medianCents: number;
  instrumentAccuracy: number;
  fd: number;
  /** Bootstrap spread of fd over the n generated clips. */
  fdSpread: FidSpread | null;
  seconds: number;
}

export interface AudioEvalResult {
  n: number;
  steps: number;
  /** The same measurements on held-out real clips' spectrograms (the pipeline's ceiling, and the floor). */
  real: {
    pitchExact: number;
    pitchWithinSemitone: number;
    instrumentAccuracy: number;
    fdFloor: number;
    fdFloorSpread: FidSpread | null;
  };
  points: AudioEvalPoint[];
}

/** Balanced labels: sample i asks for class i mod 36. */
export function balancedAudioLabels(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i % NUM_CLASSES);
}

/**
 * The lesson's measurement. Reference set: held-out clips (seed + 2000); floor: the Fréchet distance
 * between it and a second held-out set (seed + 3000) of the same size.
 */
export async function evaluateAudio(
  unet: UNet,
  cls: InstrumentClassifier,
  o: AudioEvalOptions,
): Promise<AudioEvalResult> {
  const seed = o.seed ?? 0;
  const log = o.log ?? (() => undefined);
  const ref = makeAudioSet(o.perClass, seed + 2000);
  const other = makeAudioSet(o.perClass, seed + 3000);
  const n = ref.count;
  const realPitch = await pitchScore(other.images, other.pitches, { iterations: o.glIterations });
  const floor = await featureFrechetSpread(cls, other.images, ref.images);
  const real = {
    pitchExact: realPitch.exact,
    pitchWithinSemitone: realPitch.withinSemitone,
    instrumentAccuracy: await instrumentAccuracy(cls, other.images, other.instruments),
    fdFloor: floor.fd,
    fdFloorSpread: floor.spread,
  };
  log(
    `real clips (n = ${n}): pitch ${(100 * real.pitchExact).toFixed(1)}%, instrument ${(100 * real.instrumentAccuracy).toFixed(1)}%, FD floor ${formatFidWithSpread(real.fdFloor, real.fdFloorSpread, 3)}`,
  );
  const labels = balancedAudioLabels(n);
  const asked = labels.map(splitLabel);
  const points: AudioEvalPoint[] = [];
  for (const scale of o.scales) {
    const t0 = Date.now();
    const imgs = await generateSpectrograms(unet, labels, { scale, steps: o.steps, seed, batchSize: o.batchSize });
    const seconds = (Date.now() - t0) / 1000;
    const ps = await pitchScore(
      imgs,
      asked.map((a) => a.pitch),
      { iterations: o.glIterations },
    );
    const fd = await featureFrechetSpread(cls, imgs, ref.images);
    const p: AudioEvalPoint = {
      scale,
      n,
      pitchExact: ps.exact,
      pitchWithinSemitone: ps.withinSemitone,
      medianCents: ps.medianCents,
      instrumentAccuracy: await instrumentAccuracy(
        cls,
        imgs,
        asked.map((a) => a.instrument),
      ),
      fd: fd.fd,
      fdSpread: fd.spread,
      seconds,
    };
    log(
      `w = ${scale}: pitch ${(100 * p.pitchExact).toFixed(1)}% (within a semitone ${(100 * p.pitchWithinSemitone).toFixed(1)}%, median ${p.medianCents.toFixed(1)} cents), instrument ${(100 * p.instrumentAccuracy).toFixed(1)}%, FD ${formatFidWithSpread(p.fd, p.fdSpread, 3)}, ${seconds.toFixed(1)} s`,
    );
    points.push(p);
  }
  return { n, steps: o.steps, real, points };
}
