// Spectrogram image -> sound: undo the image scaling (log -> magnitude), spread the 32 semitone bands
// back over the STFT's linear bins, and let Griffin-Lim find phases. The pitch and the instrument survive;
// the exact waveform does not (the image holds no phase, and each band pools a few bins).
import { CLIP_LENGTH, FRAMES } from './clip';
import { griffinLim, GriffinLimOptions } from './griffin_lim';
import { BANDS, imageToBands, magnitudeFromBands } from './semitone_filterbank';

export function spectrogramToWave(img: ArrayLike<number>, o: GriffinLimOptions = {}): Float64Array {
  if (img.length !== BANDS * FRAMES)
    throw new Error(`spectrogramToWave: ${img.length} values, expected a ${BANDS}x${FRAMES} spectrogram image`);
  for (let i = 0; i < img.length; i++)
    if (!Number.isFinite(img[i])) throw new Error(`spectrogramToWave: value ${i} is ${img[i]}`);
  const mag = magnitudeFromBands(imageToBands(img), FRAMES);
  return griffinLim(mag, FRAMES, CLIP_LENGTH, { iterations: 16, ...o });
}
