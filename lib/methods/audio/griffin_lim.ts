// Griffin-Lim (Griffin & Lim 1984): a waveform whose STFT magnitude matches a given one, when the
// phase is unknown (a spectrogram model outputs magnitudes only). Alternate two projections:
//   X_k   = |S| * exp(i * angle(Y_{k-1}))     keep the target magnitude, the current phase
//   y_k   = ISTFT(X_k)                         the least-squares signal of that spectrum
//   Y_k   = STFT(y_k)                          its actual (consistent) spectrum
// Each step cannot increase || |S| - |STFT(y)| || (the paper's proof), so it converges to a local fit.
import { Rng } from '../../core/random';
import { HOP, N_FFT } from './clip';
import { istft, magnitude, Spectrum, stft } from './stft';

export interface GriffinLimOptions {
  iterations?: number;
  /** Seeds the random starting phase. */
  seed?: number;
  hop?: number;
  /** Called after each iteration with the spectral convergence (slow: one more STFT; for plots). */
  onIteration?: (i: number, convergence: number) => void;
}

/** || |S| - |STFT(y)| ||_F / || |S| ||_F: 0 when y has exactly the target magnitudes. */
export function spectralConvergence(target: Float64Array, y: Float64Array, nFft = N_FFT, hop = HOP): number {
  const m = magnitude(stft(y, nFft, hop));
  if (m.length !== target.length)
    throw new Error(`spectralConvergence: ${m.length} magnitudes vs ${target.length} in the target`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < m.length; i++) {
    num += (target[i] - m[i]) ** 2;
    den += target[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** A waveform of `length` samples whose STFT magnitude (frames x bins, row-major) approximates `mag`. */
export function griffinLim(mag: Float64Array, frames: number, length: number, o: GriffinLimOptions = {}): Float64Array {
  const iterations = o.iterations ?? 32;
  const hop = o.hop ?? HOP;
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new Error(`griffinLim: iterations must be a positive integer, got ${iterations}`);
  if (mag.length % frames !== 0) throw new Error(`griffinLim: ${mag.length} magnitudes are not ${frames} frames`);
  for (let i = 0; i < mag.length; i++)
    if (!(mag[i] >= 0 && Number.isFinite(mag[i]))) throw new Error(`griffinLim: magnitude ${i} is ${mag[i]}`);
  const bins = mag.length / frames;
  const rng = new Rng(o.seed ?? 0);
  const s: Spectrum = { re: new Float64Array(mag.length), im: new Float64Array(mag.length), frames, bins };
  for (let i = 0; i < mag.length; i++) {
    const a = 2 * Math.PI * rng.uniform();
    s.re[i] = mag[i] * Math.cos(a);
    s.im[i] = mag[i] * Math.sin(a);
  }
  let y = istft(s, hop, length);
  for (let it = 0; it < iterations; it++) {
    const c = stft(y, 2 * (bins - 1), hop);
    if (c.frames !== frames) throw new Error(`griffinLim: ${c.frames} frames from ${length} samples, not ${frames}`);
    for (let i = 0; i < mag.length; i++) {
      const r = Math.hypot(c.re[i], c.im[i]);
      // Keep the target magnitude, take the phase of the consistent spectrum (phase 0 where it is 0).
      s.re[i] = r > 0 ? (mag[i] * c.re[i]) / r : mag[i];
      s.im[i] = r > 0 ? (mag[i] * c.im[i]) / r : 0;
    }
    y = istft(s, hop, length);
    o.onIteration?.(it, spectralConvergence(mag, y, 2 * (bins - 1), hop));
  }
  return y;
}
