// Loading text UNets, and "a denoiser checkpoint" of either kind: the file's config says which
// network to build (a `text` field: a TextUNet, else the core UNet). GLIGEN files hold only the new
// layers and name their base: lib/methods/gligen/model.ts loadGligen loads those.
import { buildFromCheckpoint, Checkpoint, readCheckpoint } from '../../core/checkpoint/checkpoint';
import { checkpointWeights, LoadUNetOptions, unetFromCheckpoint } from '../../core/checkpoint/unet_checkpoint';
import { DryRunLimitError } from '../../core/params';
import { UNet } from '../../core/unet/unet';
import { isTextUNetConfig, TextUNet } from './text_unet';

/** Builds the text UNet described by the checkpoint's config and fills in its weights. */
export function loadTextUNetCheckpoint(file: string, opts: LoadUNetOptions = {}): TextUNet {
  return textUNetFromCheckpoint(readCheckpoint(file), opts);
}

function textUNetFromCheckpoint(ckpt: Checkpoint, opts: LoadUNetOptions): TextUNet {
  const which = checkpointWeights(ckpt, opts, 'loadTextUNetCheckpoint');
  if (!isTextUNetConfig(ckpt.config))
    throw new Error(
      `checkpoint ${ckpt.file}: not a text-conditioned UNet (its config has no 'text'): load it with loadUNetCheckpoint or loadDenoiserCheckpoint`,
    );
  const config = ckpt.config;
  const build = (): TextUNet => {
    try {
      return new TextUNet(config);
    } catch (e) {
      if (e instanceof DryRunLimitError) throw e; // buildFromCheckpoint's own message
      throw new Error(`checkpoint ${ckpt.file}: its config does not build a text UNet (${(e as Error).message})`);
    }
  };
  return buildFromCheckpoint(ckpt, build, which); // checked against the file's tensor table first
}

/** A core UNet or a text UNet, whichever the checkpoint's config describes (`text` present: a text UNet). */
export function loadDenoiserCheckpoint(file: string, opts: LoadUNetOptions = {}): UNet | TextUNet {
  const ckpt = readCheckpoint(file);
  if ((ckpt.config as { kind?: unknown } | null)?.kind === 'gligen')
    throw new Error(`checkpoint ${file}: GLIGEN layers only: load it with loadGligen (lib/methods/gligen/model.ts)`);
  return isTextUNetConfig(ckpt.config) ? textUNetFromCheckpoint(ckpt, opts) : unetFromCheckpoint(ckpt, opts);
}
