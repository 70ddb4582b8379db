// The smallest UNet that still has every block kind (two levels, attention at 4×4): the specs' model
// where only shapes and code paths matter (the pure-JS cpu backend's conv gradients are slow).
import { UNetConfigInput } from '../../lib/core/unet/config';

export const TINY_UNET: UNetConfigInput = {
  imageSize: 8,
  inChannels: 1,
  outChannels: 1,
  baseChannels: 4,
  channelMults: [1, 2],
  attentionResolutions: [4],
  attentionHeads: 2,
  groups: 2,
};

/** Smaller still, without attention: for the cpu backend's slow convolution gradients. */
export const TINY_UNET_NO_ATTENTION: UNetConfigInput = {
  imageSize: 8,
  inChannels: 1,
  outChannels: 1,
  baseChannels: 4,
  channelMults: [1, 2],
  numResBlocks: 1,
  groups: 2,
  midAttention: false,
};
