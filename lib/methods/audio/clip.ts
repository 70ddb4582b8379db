// The audio lesson's fixed clip format and the one check every entry point runs on a clip: a clip of
// the wrong length or sample rate, an empty buffer or one holding NaN/Infinity is refused with a
// message saying which, instead of turning into a spectrogram of garbage.

/** Samples per second. 8 kHz holds the harmonics the lesson uses (up to G6, 1568 Hz) well below Nyquist. */
export const SAMPLE_RATE = 8000;
/** STFT window (128 ms): 7.8 Hz bins, fine enough to separate semitones from C4 up. */
export const N_FFT = 1024;
/** STFT hop (16 ms). */
export const HOP = 128;
/** Spectrogram frames, and (with 32 semitone rows) the side of the square image the UNet sees. */
export const FRAMES = 32;
/** Samples per clip: a centred STFT with this hop gives exactly FRAMES frames (0.496 s). */
export const CLIP_LENGTH = HOP * (FRAMES - 1);

/** Throws one clear error if `x` is not a clip of the lesson's format; returns it as a Float64Array. */
export function checkClip(x: ArrayLike<number> | null | undefined, sampleRate: number, who: string): Float64Array {
  if (x === null || x === undefined || x.length === 0) throw new Error(`${who}: empty audio buffer`);
  if (sampleRate !== SAMPLE_RATE)
    throw new Error(`${who}: sample rate ${sampleRate} Hz, the lesson's clips are ${SAMPLE_RATE} Hz (resample first)`);
  if (x.length !== CLIP_LENGTH)
    throw new Error(
      `${who}: a clip of ${x.length} samples, expected ${CLIP_LENGTH} (${CLIP_LENGTH / SAMPLE_RATE} s at ${SAMPLE_RATE} Hz)`,
    );
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`${who}: sample ${i} is ${x[i]} (the buffer must be finite)`);
  }
  return Float64Array.from(x);
}

/** Checks a mono buffer of any length is non-empty and finite (for functions that take any length). */
export function checkBuffer(x: ArrayLike<number> | null | undefined, who: string): void {
  if (x === null || x === undefined || x.length === 0) throw new Error(`${who}: empty audio buffer`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`${who}: sample ${i} is ${x[i]} (the buffer must be finite)`);
  }
}
