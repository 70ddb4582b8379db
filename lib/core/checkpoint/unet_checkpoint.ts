// Saving and loading a whole UNet: its config travels in the file, so loading needs only the path.
// This loader builds core UNets only; a checkpoint whose config carries a wrapper's fields (a text
// encoder) is refused with the name of the loader that builds it.
import { Denoiser } from '../unet/denoiser';
import { UNetConfig } from '../unet/config';
import { DryRunLimitError } from '../params';
import { UNet } from '../unet/unet';
import { buildFromCheckpoint, Checkpoint, checkConfig, readCheckpoint, saveCheckpoint } from './checkpoint';

export interface LoadUNetOptions {
  /** 'auto' (default): the EMA weights when the file has them (what sampling should use), else the raw ones. */
  weights?: 'auto' | 'ema' | 'params';
  /** When given, the file must have been saved for exactly this config. */
  expectConfig?: UNetConfig;
}

/** Which weights of `ckpt` to load for `opts.weights` (checked), after checking `opts.expectConfig`. */
export function checkpointWeights(ckpt: Checkpoint, opts: LoadUNetOptions, who: string): 'ema' | 'params' {
  if (opts.expectConfig) checkConfig(ckpt, opts.expectConfig);
  const which = opts.weights ?? 'auto';
  if (!['auto', 'ema', 'params'].includes(which))
    throw new Error(`${who}: weights must be 'auto', 'ema' or 'params', got '${which}'`);
  return which === 'auto' ? (ckpt.hasEma ? 'ema' : 'params') : which;
}

/** Builds the core UNet described by the checkpoint's config and fills in its weights. */
export function loadUNetCheckpoint(file: string, opts: LoadUNetOptions = {}): UNet {
  return unetFromCheckpoint(readCheckpoint(file), opts);
}

/** loadUNetCheckpoint for a checkpoint already read. */
export function unetFromCheckpoint(ckpt: Checkpoint, opts: LoadUNetOptions = {}): UNet {
  const file = ckpt.file;
  const which = checkpointWeights(ckpt, opts, 'loadUNetCheckpoint');
  const config = ckpt.config as Record<string, unknown> | null;
  if (config && config.text !== undefined) {
    throw new Error(
      `checkpoint ${file}: a text-conditioned UNet (its config has 'text'): load it with loadTextUNetCheckpoint or loadDenoiserCheckpoint (lib/methods/text/checkpoint.ts)`,
    );
  }
  if (config && (config.grounding !== undefined || config.kind === 'gligen')) {
    throw new Error(
      `checkpoint ${file}: GLIGEN layers (its config has 'grounding'): load it with loadGligen (lib/methods/gligen/model.ts)`,
    );
  }
  const build = (): UNet => {
    try {
      return new UNet(ckpt.config as UNetConfig);
    } catch (e) {
      if (e instanceof DryRunLimitError) throw e; // buildFromCheckpoint's own message
      throw new Error(`checkpoint ${file}: its config does not build a UNet (${(e as Error).message})`);
    }
  };
  // Dry first: the config is checked against the file's tensor table before a weight is allocated.
  return buildFromCheckpoint(ckpt, build, which);
}

/** Writes just the weights (e.g. the EMA model's) and config: a small file to ship or to sample from. */
export async function saveUNetWeights(
  file: string,
  model: Denoiser,
  metadata: Record<string, string> = {},
  step = 0,
): Promise<void> {
  await saveCheckpoint(file, { config: model.config, params: model.params, metadata, step });
}
