// A video model's file: the text UNet's config and the temporal layers' config side by side (the core
// config knows no hook), so loading rebuilds the same network, hook included, before filling it.
import '../../core/tfjs_setup';
import { loadParams, readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { isTextUNetConfig, TextUNet, TextUNetConfig } from '../text/text_unet';
import { TemporalConfig, TemporalHook } from './temporal_hook';

export interface VideoModelConfig {
  kind: 'video-unet';
  unet: TextUNetConfig;
  temporal: TemporalConfig;
}

/** The config that rebuilds this model (a text UNet built with a TemporalHook). */
export function videoModelConfig(model: TextUNet): VideoModelConfig {
  if (!(model.hook instanceof TemporalHook))
    throw new Error('videoModelConfig: the model has no temporal layers (it was not built with a TemporalHook)');
  return { kind: 'video-unet', unet: model.config, temporal: { ...model.hook.config } };
}

/** Writes the model's weights with the config that rebuilds it. */
export async function saveVideoModel(
  file: string,
  model: TextUNet,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveCheckpoint(file, { config: videoModelConfig(model), params: model.params, metadata });
}

/** The video model in `file` (a saveVideoModel file, or a training state: its EMA weights when it has them). */
export function loadVideoModel(file: string): TextUNet {
  const ckpt = readCheckpoint(file);
  const c = ckpt.config as Partial<VideoModelConfig> | null;
  if (c === null || typeof c !== 'object' || c.kind !== 'video-unet' || !isTextUNetConfig(c.unet) || !c.temporal)
    throw new Error(`loadVideoModel: ${file} is not a video model (its config kind is not 'video-unet')`);
  const model = new TextUNet(c.unet, { hook: new TemporalHook(c.temporal) });
  try {
    loadParams(ckpt, model.params, ckpt.hasEma ? 'ema' : 'params');
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
