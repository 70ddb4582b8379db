// The lesson's exact pitch estimator: the period of a clip from its autocorrelation,
//   r(tau) = sum_n x[n] x[n + tau] / (N - tau)        (unbiased: no bias towards short lags)
// A periodic signal correlates with itself shifted by one period T0 = fs / f0 (and by 2 T0, 3 T0, ...).
// Take the SHORTEST lag whose local maximum reaches 85 % of the highest one (the highest can be 2 T0
// when the waveform is rich; a shorter lag with nearly the same correlation is the true period), then
// refine it between samples with the parabola through the three values around it.
// Works for any harmonic mix, including a missing or weak fundamental, unlike the strongest FFT peak.
import { checkBuffer } from './clip';

export interface PitchOptions {
  sampleRate: number;
  /** Search range in Hz (default 100 .. 1100: C4..B4 with room for an octave error either way). */
  minHz?: number;
  maxHz?: number;
}

export interface PitchEstimate {
  hz: number;
  /** r(T0) / r(0): near 1 for a clean periodic tone, near 0 for noise. */
  clarity: number;
}

export function estimatePitch(x: ArrayLike<number>, o: PitchOptions): PitchEstimate {
  checkBuffer(x, 'estimatePitch');
  const { sampleRate } = o;
  if (!(sampleRate > 0)) throw new Error(`estimatePitch: sampleRate must be positive, got ${sampleRate}`);
  const minHz = o.minHz ?? 100;
  const maxHz = o.maxHz ?? 1100;
  const n = x.length;
  const lo = Math.max(2, Math.floor(sampleRate / maxHz));
  const hi = Math.min(Math.ceil(sampleRate / minHz), Math.floor(n / 2));
  if (hi <= lo + 2) throw new Error(`estimatePitch: ${n} samples are too few for ${minHz} Hz`);
  const r = new Float64Array(hi + 2);
  for (let tau = 0; tau <= hi + 1; tau++) {
    let s = 0;
    for (let i = 0; i + tau < n; i++) s += x[i] * x[i + tau];
    r[tau] = s / (n - tau);
  }
  if (!(r[0] > 0)) throw new Error('estimatePitch: the clip is silent');
  let best = -Infinity;
  for (let tau = lo; tau <= hi; tau++) if (r[tau] > best) best = r[tau];
  let pick = -1;
  for (let tau = lo; tau <= hi; tau++) {
    if (r[tau] >= r[tau - 1] && r[tau] >= r[tau + 1] && r[tau] >= 0.85 * best) {
      pick = tau;
      break;
    }
  }
  if (pick < 0) pick = r.indexOf(best, lo); // a monotone r over the range: no period found inside it
  const a = r[pick - 1];
  const b = r[pick];
  const c = r[pick + 1];
  const den = a - 2 * b + c;
  const delta = den < 0 ? (0.5 * (a - c)) / den : 0;
  return { hz: sampleRate / (pick + delta), clarity: b / r[0] };
}

/** Signed distance from `hz` to the note `midi` in cents (100 cents = 1 semitone). */
export function centsFrom(hz: number, midi: number): number {
  return 1200 * Math.log2(hz / (440 * 2 ** ((midi - 69) / 12)));
}

/** The nearest MIDI note to `hz`. */
export function nearestMidi(hz: number): number {
  return Math.round(69 + 12 * Math.log2(hz / 440));
}
