// The lesson's sound data set, made here from a seed (nothing downloaded): one-note clips of 12 pitches
// (C4 ... B4, equal temperament, A4 = 440 Hz) played by 3 synthetic instruments. An instrument is a
// harmonic mix (the timbre: which multiples of the fundamental sound, how loud) and an amplitude
// envelope (how the note starts and dies away):
//   flute     mostly the fundamental, a soft 2nd harmonic; slow attack, steady, gentle release
//   pluck     many harmonics falling off as 1/h; instant attack, exponential decay
//   clarinet  odd harmonics only (1, 3, 5): the hollow, square-wave-like sound; quick attack, steady
// Each clip varies (seeded): loudness, a detune of up to +-15 cents, the onset time, the harmonics'
// phases and a little noise, so a class is a distribution, not one image. Label = instrument * 12 + pitch.
import { Rng } from '../../core/random';
import { ImageData } from '../../core/train/batch_source';
import { CLIP_LENGTH, SAMPLE_RATE } from './clip';
import { BANDS, spectrogramImage } from './semitone_filterbank';

export const PITCH_NAMES = ['C4', 'C#4', 'D4', 'D#4', 'E4', 'F4', 'F#4', 'G4', 'G#4', 'A4', 'A#4', 'B4'] as const;
export const INSTRUMENTS = ['flute', 'pluck', 'clarinet'] as const;
export const NUM_PITCHES = PITCH_NAMES.length;
export const NUM_INSTRUMENTS = INSTRUMENTS.length;
export const NUM_CLASSES = NUM_PITCHES * NUM_INSTRUMENTS;

/** MIDI number of pitch index p (0 = C4 = MIDI 60). */
export function midiOf(p: number): number {
  return 60 + p;
}

export function hzOfMidi(m: number): number {
  return 440 * 2 ** ((m - 69) / 12);
}

export function classLabel(pitch: number, instrument: number): number {
  if (!Number.isInteger(pitch) || pitch < 0 || pitch >= NUM_PITCHES)
    throw new Error(`classLabel: pitch index must be an integer in [0, ${NUM_PITCHES}), got ${pitch}`);
  if (!Number.isInteger(instrument) || instrument < 0 || instrument >= NUM_INSTRUMENTS)
    throw new Error(`classLabel: instrument index must be an integer in [0, ${NUM_INSTRUMENTS}), got ${instrument}`);
  return instrument * NUM_PITCHES + pitch;
}

export function splitLabel(label: number): { pitch: number; instrument: number } {
  if (!Number.isInteger(label) || label < 0 || label >= NUM_CLASSES)
    throw new Error(`splitLabel: label must be an integer in [0, ${NUM_CLASSES}), got ${label}`);
  return { pitch: label % NUM_PITCHES, instrument: Math.floor(label / NUM_PITCHES) };
}

/** Relative amplitudes of harmonics 1, 2, 3, ... per instrument. */
const HARMONICS: readonly (readonly number[])[] = [
  [1, 0.25, 0.06],
  [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6],
  [1, 0, 0.45, 0, 0.25],
];

/** Amplitude envelope at time t (s) after the onset. */
function envelope(instrument: number, t: number, dur: number): number {
  if (t < 0) return 0;
  const release = (tEnd: number, len: number) => (t > tEnd - len ? Math.max(0, (tEnd - t) / len) : 1);
  if (instrument === 0) return Math.min(1, t / 0.08) * release(dur, 0.06);
  if (instrument === 1) return Math.min(1, t / 0.003) * Math.exp(-t / 0.12);
  return Math.min(1, t / 0.015) * release(dur, 0.02);
}

export interface NoteOptions {
  /** Detune in cents (default 0). */
  cents?: number;
  /** Peak amplitude (default 0.7). */
  amplitude?: number;
  /** Onset in seconds (default 0.02). */
  onset?: number;
  /** Start phase of each harmonic, radians (default all 0). */
  phases?: number[];
  /** Standard deviation of added white noise (default 0). */
  noise?: number;
  rng?: Rng;
}

/** One clip (CLIP_LENGTH samples at SAMPLE_RATE) of `pitch` (0..11) on `instrument` (0..2). */
export function synthNote(pitch: number, instrument: number, o: NoteOptions = {}): Float64Array {
  classLabel(pitch, instrument); // validates both
  const f0 = hzOfMidi(midiOf(pitch)) * 2 ** ((o.cents ?? 0) / 1200);
  const amp = o.amplitude ?? 0.7;
  const onset = o.onset ?? 0.02;
  const h = HARMONICS[instrument];
  const norm = h.reduce((a, b) => a + b, 0);
  const dur = CLIP_LENGTH / SAMPLE_RATE;
  const x = new Float64Array(CLIP_LENGTH);
  for (let n = 0; n < CLIP_LENGTH; n++) {
    const t = n / SAMPLE_RATE;
    const e = envelope(instrument, t - onset, dur - onset);
    if (e === 0) continue;
    let s = 0;
    for (let k = 0; k < h.length; k++) {
      if (h[k] !== 0) s += h[k] * Math.sin(2 * Math.PI * (k + 1) * f0 * (t - onset) + (o.phases?.[k] ?? 0));
    }
    x[n] = (amp * e * s) / norm;
  }
  if (o.noise && o.noise > 0) {
    if (!o.rng) throw new Error('synthNote: noise needs an rng');
    for (let n = 0; n < CLIP_LENGTH; n++) x[n] += o.noise * o.rng.normal();
  }
  return x;
}

export interface AudioSet {
  /** Clips, each CLIP_LENGTH samples. */
  clips: Float64Array[];
  /** Spectrogram images, count x BANDS x FRAMES (row 0 = C4), values in [-1, 1]. */
  images: Float32Array;
  labels: Int32Array;
  pitches: Int32Array;
  instruments: Int32Array;
  /** Detune of each clip in cents (the true pitch is the label's note plus this). */
  cents: Float64Array;
  count: number;
  seed: number;
}

/** `perClass` clips of each of the 36 (pitch, instrument) classes, in class order, drawn from `seed`. */
export function makeAudioSet(perClass: number, seed: number): AudioSet {
  if (!Number.isInteger(perClass) || perClass < 1)
    throw new Error(`makeAudioSet: perClass must be a positive integer, got ${perClass}`);
  const rng = new Rng(seed);
  const count = perClass * NUM_CLASSES;
  const set: AudioSet = {
    clips: [],
    images: new Float32Array(count * BANDS * BANDS),
    labels: new Int32Array(count),
    pitches: new Int32Array(count),
    instruments: new Int32Array(count),
    cents: new Float64Array(count),
    count,
    seed,
  };
  let i = 0;
  for (let label = 0; label < NUM_CLASSES; label++) {
    const { pitch, instrument } = splitLabel(label);
    for (let j = 0; j < perClass; j++, i++) {
      const cents = 30 * (rng.uniform() - 0.5);
      const clip = synthNote(pitch, instrument, {
        cents,
        amplitude: 0.4 + 0.5 * rng.uniform(),
        onset: 0.01 + 0.05 * rng.uniform(),
        phases: Array.from({ length: 6 }, () => 2 * Math.PI * rng.uniform()),
        noise: 0.003,
        rng,
      });
      set.clips.push(clip);
      set.images.set(spectrogramImage(clip), i * BANDS * BANDS);
      set.labels[i] = label;
      set.pitches[i] = pitch;
      set.instruments[i] = instrument;
      set.cents[i] = cents;
    }
  }
  return set;
}

/**
 * The set as 8-bit images (what the course's batch source and Fashion-MNIST use): [-1, 1] -> 0..255,
 * about 0.27 dB per step, far below what the model resolves.
 */
export function audioImageData(set: AudioSet): ImageData {
  const images = new Uint8Array(set.images.length);
  for (let i = 0; i < images.length; i++) images[i] = Math.round(((set.images[i] + 1) / 2) * 255);
  return { images, labels: Uint8Array.from(set.labels), count: set.count, height: BANDS, width: BANDS, channels: 1 };
}
