// Short-time Fourier transform and its inverse (overlap-add), the two halves Griffin-Lim alternates.
// Centred frames (the signal is reflect-padded by nFft/2 at both ends, as librosa's center=True), a
// periodic Hann window; only the nFft/2 + 1 non-negative frequencies are kept (the signal is real).
import { fftInPlace, isPowerOfTwo } from './fft';
import { checkBuffer } from './clip';

export interface Spectrum {
  /** Frames x bins, row-major: frame f, bin k at [f * bins + k]. */
  re: Float64Array;
  im: Float64Array;
  frames: number;
  bins: number;
}

/** Periodic Hann window (sums to a constant under 75 % overlap and more). */
export function hann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

function reflect(i: number, n: number): number {
  // Index into [0, n) mirrored at both ends without repeating the edge sample (numpy 'reflect').
  const p = 2 * (n - 1);
  let j = ((i % p) + p) % p;
  if (j >= n) j = p - j;
  return j;
}

export function frameCount(length: number, hop: number): number {
  return 1 + Math.floor(length / hop);
}

export function stft(x: ArrayLike<number>, nFft: number, hop: number): Spectrum {
  checkBuffer(x, 'stft');
  if (!isPowerOfTwo(nFft)) throw new Error(`stft: nFft must be a power of two, got ${nFft}`);
  if (!Number.isInteger(hop) || hop < 1 || hop > nFft) throw new Error(`stft: hop must be in [1, nFft], got ${hop}`);
  if (x.length <= nFft / 2) throw new Error(`stft: ${x.length} samples are too few for nFft ${nFft}`);
  const frames = frameCount(x.length, hop);
  const bins = nFft / 2 + 1;
  const w = hann(nFft);
  const re = new Float64Array(frames * bins);
  const im = new Float64Array(frames * bins);
  const fr = new Float64Array(nFft);
  const fi = new Float64Array(nFft);
  for (let f = 0; f < frames; f++) {
    const start = f * hop - nFft / 2;
    for (let i = 0; i < nFft; i++) {
      fr[i] = x[reflect(start + i, x.length)] * w[i];
      fi[i] = 0;
    }
    fftInPlace(fr, fi);
    re.set(fr.subarray(0, bins), f * bins);
    im.set(fi.subarray(0, bins), f * bins);
  }
  return { re, im, frames, bins };
}

/**
 * Inverse STFT of `length` samples: each frame's inverse FFT, windowed again and overlap-added, divided
 * by the summed squared window (the least-squares inverse of Griffin & Lim 1984, eq. 6).
 */
export function istft(s: Spectrum, hop: number, length: number): Float64Array {
  const nFft = 2 * (s.bins - 1);
  const w = hann(nFft);
  const pad = nFft / 2;
  const total = length + 2 * pad;
  const out = new Float64Array(total);
  const norm = new Float64Array(total);
  const fr = new Float64Array(nFft);
  const fi = new Float64Array(nFft);
  for (let f = 0; f < s.frames; f++) {
    // Rebuild the full spectrum from the non-negative half (Hermitian symmetry of a real signal).
    for (let k = 0; k < s.bins; k++) {
      fr[k] = s.re[f * s.bins + k];
      fi[k] = s.im[f * s.bins + k];
    }
    for (let k = s.bins; k < nFft; k++) {
      fr[k] = fr[nFft - k];
      fi[k] = -fi[nFft - k];
    }
    fftInPlace(fr, fi, true);
    const start = f * hop;
    for (let i = 0; i < nFft && start + i < total; i++) {
      out[start + i] += fr[i] * w[i];
      norm[start + i] += w[i] * w[i];
    }
  }
  const y = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const nv = norm[i + pad];
    y[i] = nv > 1e-8 ? out[i + pad] / nv : 0;
  }
  return y;
}

/** |X| per frame and bin (frames x bins, row-major). */
export function magnitude(s: Spectrum): Float64Array {
  const m = new Float64Array(s.re.length);
  for (let i = 0; i < m.length; i++) m[i] = Math.hypot(s.re[i], s.im[i]);
  return m;
}
