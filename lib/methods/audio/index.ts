// Lesson 16: diffusion on sound, through spectrogram images.
export { SAMPLE_RATE, N_FFT, HOP, FRAMES, CLIP_LENGTH, checkClip, checkBuffer } from './clip';
export { fft, fftInPlace, naiveDft, isPowerOfTwo } from './fft';
export { stft, istft, magnitude, hann, frameCount } from './stft';
export type { Spectrum } from './stft';
export {
  BANDS,
  BASE_HZ,
  DB_MIN,
  DB_MAX,
  bandHz,
  semitoneFilterbank,
  bandsFromMagnitude,
  bandsToImage,
  imageToBands,
  magnitudeFromBands,
  spectrogramImage,
} from './semitone_filterbank';
export { griffinLim, spectralConvergence } from './griffin_lim';
export type { GriffinLimOptions } from './griffin_lim';
export { spectrogramToWave } from './vocode';
export { estimatePitch, centsFrom, nearestMidi } from './pitch';
export type { PitchOptions, PitchEstimate } from './pitch';
export {
  PITCH_NAMES,
  INSTRUMENTS,
  NUM_PITCHES,
  NUM_INSTRUMENTS,
  NUM_CLASSES,
  midiOf,
  hzOfMidi,
  classLabel,
  splitLabel,
  synthNote,
  makeAudioSet,
  audioImageData,
} from './dataset';
export type { AudioSet, NoteOptions } from './dataset';
export { encodeWav, decodeWav } from './wav';
export { audioBundle, playAudio } from './audio_display';
export {
  InstrumentClassifier,
  loadInstrumentClassifier,
  trainInstrumentClassifier,
  INSTRUMENT_FEATURES,
} from './instrument_classifier';
export { audioUNetConfig } from './model';
export { generateSpectrograms } from './sample';
export type { GenerateOptions } from './sample';
export {
  evaluateAudio,
  pitchScore,
  featureFrechet,
  instrumentAccuracy,
  imagesTensor,
  balancedAudioLabels,
} from './eval';
export type { AudioEvalOptions, AudioEvalPoint, AudioEvalResult, PitchScore } from './eval';
export {
  WaveformUNet,
  Conv1d,
  waveformUNetConfig,
  validateWaveformConfig,
  waveformLevels,
  waveformReceptiveField,
  waveformUNetFlops,
  makeWaveformTrainStep,
} from './waveform_unet';
export type { WaveformUNetConfig, WaveformTrainStep, WaveformTrainStepOptions } from './waveform_unet';
