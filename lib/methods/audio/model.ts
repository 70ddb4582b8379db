// The lesson's diffusion model: the course's UNet (lib/core/unet) on 32x32 spectrogram images, class-
// conditional on the 36 (pitch, instrument) pairs (+1 null class for classifier-free guidance), trained
// with the same linear T = 1000 schedule and eps loss as lessons 05 and 07. Smaller than the reference
// (one ResBlock per level, attention only in the bottleneck): a spectrogram of one note is simpler than
// a garment, and the lesson trains in minutes on two CPU cores.
import { referenceUNetConfig, UNetConfig } from '../../core/unet/config';
import { NUM_CLASSES } from './dataset';
import { BANDS } from './semitone_filterbank';

export function audioUNetConfig(overrides: Partial<UNetConfig> = {}): UNetConfig {
  return referenceUNetConfig({
    imageSize: BANDS,
    baseChannels: 32,
    channelMults: [1, 2, 2],
    numResBlocks: 1,
    attentionResolutions: [],
    numClasses: NUM_CLASSES,
    ...overrides,
  });
}
