// Analytic FLOP count of a UNet forward pass (convolutions and matrix products only; norms and
// activations are a few percent). One multiply-add = 2 FLOPs. A training step is about 3x the
// forward pass (the backward pass computes gradients for both inputs and weights: ~2x forward).
// The core UNet only: a wrapper's own parts (a text UNet's text encoder) are not counted.
import { coreUNetConfig, resolveUNetConfig, UNetConfigInput } from '../core/unet/config';

export interface FlopCount {
  /** Forward pass FLOPs for the batch. */
  forward: number;
  /** Forward + backward (backward taken as 2x forward). */
  train: number;
}

export function unetFlops(config: UNetConfigInput, batch: number, contextLength = 0): FlopCount {
  const c = resolveUNetConfig(coreUNetConfig(config));
  if (!Number.isInteger(batch) || batch <= 0)
    throw new Error(`unetFlops: batch must be a positive integer, got ${batch}`);
  let f = 0;
  const conv = (side: number, cin: number, cout: number, k: number, stride = 1) => {
    const o = side / stride;
    f += 2 * o * o * k * k * cin * cout;
  };
  const linear = (tokens: number, din: number, dout: number) => {
    f += 2 * tokens * din * dout;
  };
  const base = c.baseChannels;
  const temb = 4 * base;
  const res = (side: number, cin: number, cout: number) => {
    conv(side, cin, cout, 3);
    conv(side, cout, cout, 3);
    linear(1, temb, cout);
    if (cin !== cout) conv(side, cin, cout, 1);
  };
  const attn = (side: number, ch: number) => {
    const n = side * side;
    linear(n, ch, 3 * ch);
    f += 2 * 2 * n * n * ch; // QK^T and PV over all heads
    linear(n, ch, ch);
    if (c.contextDim !== undefined && contextLength > 0) {
      linear(n, ch, ch);
      linear(contextLength, c.contextDim, 2 * ch);
      f += 2 * 2 * n * contextLength * ch;
      linear(n, ch, ch);
    }
  };
  linear(1, base, temb);
  linear(1, temb, temb);
  if (c.numClasses !== undefined) linear(1, c.numClasses + 1, temb);
  conv(c.imageSize, c.inChannels + (c.condChannels ?? 0), base, 3);
  const L = c.channelMults.length;
  const skips = [base];
  let ch = base;
  let side = c.imageSize;
  for (let i = 0; i < L; i++) {
    const w = base * c.channelMults[i];
    for (let j = 0; j < c.numResBlocks; j++) {
      res(side, ch, w);
      ch = w;
      if (c.attentionResolutions.includes(side)) attn(side, ch);
      skips.push(ch);
    }
    if (i < L - 1) {
      if (c.downsample === 'conv') conv(side, ch, ch, 3, 2);
      skips.push(ch);
      side /= 2;
    }
  }
  res(side, ch, ch);
  if (c.midAttention) attn(side, ch);
  res(side, ch, ch);
  for (let i = L - 1; i >= 0; i--) {
    const w = base * c.channelMults[i];
    for (let j = 0; j <= c.numResBlocks; j++) {
      res(side, ch + skips.pop()!, w);
      ch = w;
      if (c.attentionResolutions.includes(side)) attn(side, ch);
    }
    if (i > 0) {
      side *= 2;
      conv(side, ch, ch, 3);
    }
  }
  conv(side, ch, c.outChannels, 3);
  const forward = f * batch;
  return { forward, train: 3 * forward };
}
