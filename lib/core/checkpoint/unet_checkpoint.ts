// Saving and loading a whole UNet: its config travels in the file, so loading needs only the path.
import { UNetConfig } from '../unet/config';
import { UNet } from '../unet/unet';
import { checkConfig, loadParams, readCheckpoint, saveCheckpoint } from './checkpoint';

export interface LoadUNetOptions {
  /** 'auto' (default): the EMA weights when the file has them (what sampling should use), else the raw ones. */
  weights?: 'auto' | 'ema' | 'params';
  /** When given, the file must have been saved for exactly this config. */
  expectConfig?: UNetConfig;
}

/** Builds the UNet described by the checkpoint's config and fills in its weights. */
export function loadUNetCheckpoint(file: string, opts: LoadUNetOptions = {}): UNet {
  const ckpt = readCheckpoint(file);
  if (opts.expectConfig) checkConfig(ckpt, opts.expectConfig);
  const which = opts.weights ?? 'auto';
  if (!['auto', 'ema', 'params'].includes(which)) throw new Error(`loadUNetCheckpoint: weights must be 'auto', 'ema' or 'params', got '${which}'`);
  let model: UNet;
  try {
    model = new UNet(ckpt.config as UNetConfig);
  } catch (e) {
    throw new Error(`checkpoint ${file}: its config does not build a UNet (${(e as Error).message})`);
  }
  try {
    loadParams(ckpt, model.params, which === 'auto' ? (ckpt.hasEma ? 'ema' : 'params') : which);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Writes just the weights (e.g. the EMA model's) and config: a small file to ship or to sample from. */
export async function saveUNetWeights(file: string, model: UNet, metadata: Record<string, string> = {}, step = 0): Promise<void> {
  await saveCheckpoint(file, { config: model.config, params: model.params, metadata, step });
}
