// The lesson's spectrogram image: 32 rows of log-frequency bands one semitone apart (C4 = 261.6 Hz up
// to G6 = 1568 Hz) x 32 STFT frames, log-magnitude scaled to [-1, 1]. A mel filterbank does the same
// with mel-spaced bands; semitone spacing (the musician's log scale) puts every note one row apart and
// every harmonic at a fixed offset above its fundamental (2nd: +12 rows, 3rd: +19, 4th: +24), so the
// image is a piano roll with timbre on top, and the UNet sees the same shape shifted for each pitch.
// Band r is a triangle in log-frequency from the centre of band r - 1 to that of r + 1 over the STFT's
// linear bins. Going back (for Griffin-Lim) is approximate: each linear bin gets the weighted mean of the
// bands that cover it; bins outside all bands get nothing.
import { checkClip, FRAMES, HOP, N_FFT, SAMPLE_RATE } from './clip';
import { magnitude, stft } from './stft';

/** Rows of the image: semitone bands. */
export const BANDS = 32;
/** Frequency of band 0 (C4). */
export const BASE_HZ = 261.6255653005986;
/** The image's log-magnitude range: DB_MIN maps to -1, DB_MAX to +1 (clipped outside). */
export const DB_MIN = -60;
export const DB_MAX = 10;
/** A sine of amplitude A has an STFT peak of about A * N_FFT / 4 (Hann window): this makes it about A. */
const MAG_SCALE = 4 / N_FFT;

export function bandHz(r: number): number {
  return BASE_HZ * 2 ** (r / 12);
}

let cached: Float64Array | null = null;

/** The filterbank, BANDS x (N_FFT / 2 + 1), row-major. */
export function semitoneFilterbank(): Float64Array {
  if (cached) return cached;
  const bins = N_FFT / 2 + 1;
  const fb = new Float64Array(BANDS * bins);
  for (let r = 0; r < BANDS; r++) {
    for (let k = 1; k < bins; k++) {
      // Distance from the band centre in semitones: the triangle is 1 at 0 and 0 at +-1.
      const d = Math.abs(12 * Math.log2((k * SAMPLE_RATE) / N_FFT / bandHz(r)));
      if (d < 1) fb[r * bins + k] = 1 - d;
    }
  }
  cached = fb;
  return fb;
}

/** Linear STFT magnitudes (frames x bins) -> band magnitudes, image layout [band][frame] (row 0 = C4). */
export function bandsFromMagnitude(mag: Float64Array, frames: number): Float64Array {
  const bins = N_FFT / 2 + 1;
  const fb = semitoneFilterbank();
  const out = new Float64Array(BANDS * frames);
  for (let f = 0; f < frames; f++) {
    for (let r = 0; r < BANDS; r++) {
      let s = 0;
      for (let k = 0; k < bins; k++) {
        const w = fb[r * bins + k];
        if (w !== 0) s += w * mag[f * bins + k];
      }
      out[r * frames + f] = s * MAG_SCALE;
    }
  }
  return out;
}

/** Band magnitudes -> image values in [-1, 1] (log scale, clipped). */
export function bandsToImage(bands: Float64Array): Float32Array {
  const img = new Float32Array(bands.length);
  for (let i = 0; i < bands.length; i++) {
    const db = 20 * Math.log10(Math.max(bands[i], 1e-8));
    img[i] = Math.min(1, Math.max(-1, (2 * (db - DB_MIN)) / (DB_MAX - DB_MIN) - 1));
  }
  return img;
}

/** Image values -> band magnitudes (the inverse of bandsToImage, up to the clipping). */
export function imageToBands(img: ArrayLike<number>): Float64Array {
  const b = new Float64Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const v = Math.min(1, Math.max(-1, img[i]));
    const db = DB_MIN + ((v + 1) / 2) * (DB_MAX - DB_MIN);
    // The floor (-1) is silence, not -60 dB of every band: it would add a noise floor to the sound.
    b[i] = v <= -1 ? 0 : 10 ** (db / 20);
  }
  return b;
}

/** The lesson's spectrogram image [BANDS x FRAMES] (row-major, row 0 = C4) of a clip (checked: checkClip). */
export function spectrogramImage(x: ArrayLike<number>, sampleRate: number = SAMPLE_RATE): Float32Array {
  const s = stft(checkClip(x, sampleRate, 'spectrogramImage'), N_FFT, HOP);
  if (s.frames !== FRAMES) throw new Error(`spectrogramImage: ${s.frames} frames, expected ${FRAMES}`);
  return bandsToImage(bandsFromMagnitude(magnitude(s), s.frames));
}

/**
 * Band magnitudes [BANDS x frames] -> an estimate of the linear STFT magnitudes (frames x bins): each
 * bin gets the filter-weighted mean of the bands covering it (scaled back to STFT units).
 */
export function magnitudeFromBands(bands: Float64Array, frames: number): Float64Array {
  const bins = N_FFT / 2 + 1;
  const fb = semitoneFilterbank();
  const mag = new Float64Array(frames * bins);
  for (let k = 0; k < bins; k++) {
    let wsum = 0;
    for (let r = 0; r < BANDS; r++) wsum += fb[r * bins + k];
    if (wsum === 0) continue;
    for (let f = 0; f < frames; f++) {
      let s = 0;
      for (let r = 0; r < BANDS; r++) {
        const w = fb[r * bins + k];
        if (w !== 0) s += w * bands[r * frames + f];
      }
      // A band's magnitude sums its ~2-4 bins (weights ~1): per bin, about the band value / wsum.
      mag[f * bins + k] = s / wsum / MAG_SCALE;
    }
  }
  return mag;
}
