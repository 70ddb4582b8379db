// The sizes of lesson 11's cascade in one place, so the training script, the notebook, the eval and
// the tests build the same networks: a 16x16 base text-to-image UNet and a 16 -> 32 super-resolution
// UNet, both cross-attending to the frozen text encoder's token vectors.
import { Prediction } from '../../core/loss';
import { linearSchedule, NoiseSchedule } from '../../core/schedule';
import { shapesTextUNetConfig } from '../text/shapes_text';
import { UNetConfig } from '../../core/unet/config';
import { NOISE_AUG_BUCKETS } from './noise_aug';

export const BASE_SIZE = 16;
export const SR_SIZE = 32;

/** Both stages: the linear T = 1000 schedule. */
export function cascadeSchedule(): NoiseSchedule {
  return linearSchedule(1000);
}

/**
 * What each stage predicts. The base decides the layout at high noise, where an eps loss gives little
 * weight (lesson 10 measured it), so it predicts v; the SR stage is handed the layout by its low-res
 * input and keeps eps.
 */
export const STAGE_PREDICTION: { base: Prediction; sr: Prediction } = { base: 'v', sr: 'eps' };

/**
 * The base model: 16x16x3, levels 16 -> 8 -> 4 with 32/64/64 channels, cross-attention at 8x8 and in
 * the middle, CoordConv position channels (captions say where). A quarter of the 32x32 model's pixels.
 */
export function imagenBaseConfig(contextDim: number, overrides: Partial<UNetConfig> = {}): UNetConfig {
  return shapesTextUNetConfig({ imageSize: BASE_SIZE, contextDim, ...overrides });
}

/**
 * The super-resolution model: 32x32, levels 32 -> 16 -> 8 with 16/32/32 channels, the up-sampled 16x16
 * image as 3 extra input channels, the text context cross-attended in the middle (8x8) only, and the
 * noise-augmentation level as a class label. Half the base model's width: the low-res image already
 * fixes what goes where, the stage only sharpens edges and colours, and at 32x32 every channel costs
 * four times what it costs at 16x16 (this model trains on a shared 2-core CPU).
 */
export function imagenSrConfig(contextDim: number, overrides: Partial<UNetConfig> = {}): UNetConfig {
  return shapesTextUNetConfig({
    baseChannels: 16,
    attentionResolutions: [],
    midAttention: true,
    contextDim,
    condChannels: 3,
    numClasses: NOISE_AUG_BUCKETS,
    ...overrides,
  });
}
