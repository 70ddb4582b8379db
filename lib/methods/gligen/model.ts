// A GLIGEN model = the frozen base UNet (lesson 13's latent text model) + the new GLIGEN
// parameters (grounding MLP, gated self-attention layers), added through the core UNet's attention
// hook (grounding_hook.ts). Only the new parameters are trained and shipped; loading rebuilds the base
// from its own checkpoint and adds them.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '../../core/tfjs_setup';
import { readCheckpoint, saveCheckpoint } from '../../core/checkpoint/checkpoint';
import { toFloat32 } from '../../core/checkpoint/safetensors';
import { repoRoot } from '../../runtime/repo_root';
import { ParamMap, ParamStore } from '../../core/params';
import { Rng } from '../../core/random';
import { Denoiser } from '../../core/unet/denoiser';
import { isTextUNetConfig, TextUNet, TextUNetConfig } from '../text/text_unet';
import { GatedSelfAttention, GroundingConfig, GroundingTokenizer } from './gated_self_attention';
import { DEFAULT_MAX_GROUNDING, groundingInputDim } from './grounding';
import { GroundingHook, groundingOf } from './grounding_hook';

/** Is this a GLIGEN parameter ('gligen.tokenizer.*', '<level>.gligen.attn.<j>.*')? */
export function isGligenParam(name: string): boolean {
  return name.split('.').includes('gligen');
}

/** The parameters GLIGEN trains: every one with a 'gligen' path segment. */
export function gligenParams(unet: Denoiser): ParamMap {
  return new Map([...unet.params].filter(([n]) => isGligenParam(n)));
}

/** GLIGEN's grounding config for a base text UNet (token width = the base's text width). */
export function groundingConfigFor(base: TextUNetConfig, tokenDim = 64): GroundingConfig {
  if (!isTextUNetConfig(base))
    throw new Error(
      'groundingConfigFor: the base model has no text encoder (config.text): GLIGEN embeds phrases with it',
    );
  return { inputDim: groundingInputDim(base.text.width), tokenDim };
}

/** Copies the base's weights (EMA if the file has them) into every non-GLIGEN parameter of `unet`. */
function loadBaseWeights(unet: Denoiser, baseFile: string): void {
  const ckpt = readCheckpoint(baseFile);
  const prefix = ckpt.hasEma ? 'ema/' : '';
  for (const [name, v] of unet.params) {
    if (isGligenParam(name)) continue;
    const t = ckpt.tensors.get(prefix + name);
    if (!t) throw new Error(`base checkpoint ${baseFile}: tensor '${prefix + name}' is missing`);
    if (t.shape.join() !== v.shape.join())
      throw new Error(`base checkpoint ${baseFile}: '${name}' is [${t.shape}], the model expects [${v.shape}]`);
    const x = tf.tensor(toFloat32(t), t.shape, 'float32');
    v.assign(x);
    x.dispose();
  }
}

/** The frozen base plus freshly initialised GLIGEN layers (gates at 0), from the base's checkpoint. */
export function groundedFromBase(baseFile: string, opts: { seed?: number; tokenDim?: number } = {}): TextUNet {
  if (!fs.existsSync(baseFile))
    throw new Error(`GLIGEN base model not found at ${baseFile}: train it with \`npm run train:latent -- ldm-text\``);
  const base = readCheckpoint(baseFile).config;
  if (!isTextUNetConfig(base))
    throw new Error(`GLIGEN base ${baseFile} has no text encoder (config.text): GLIGEN embeds phrases with it`);
  const unet = new TextUNet(base, {
    seed: opts.seed ?? 0,
    hook: new GroundingHook(groundingConfigFor(base, opts.tokenDim)),
  });
  try {
    loadBaseWeights(unet, baseFile);
  } catch (e) {
    unet.dispose();
    throw e;
  }
  return unet;
}

/** Writes only the GLIGEN parameters, with the grounding config and the base's path. */
export async function saveGligen(
  file: string,
  unet: Denoiser,
  baseFile: string,
  metadata: Record<string, string> = {},
): Promise<void> {
  const grounding = groundingOf(unet);
  if (!grounding) throw new Error('saveGligen: the UNet has no grounding layers (GLIGEN hook)');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const base = path.relative(repoRoot(), path.resolve(baseFile));
  await saveCheckpoint(file, {
    config: { kind: 'gligen', base, grounding, maxObjects: DEFAULT_MAX_GROUNDING },
    params: gligenParams(unet),
    metadata,
  });
}

/** Base (from the path stored in the file, relative to the repository, unless given) + GLIGEN weights. */
export function loadGligen(file: string, baseFile?: string): TextUNet {
  if (!fs.existsSync(file))
    throw new Error(`GLIGEN weights not found at ${file}: train them with \`npm run train:latent -- gligen\``);
  const ckpt = readCheckpoint(file);
  const cfg = ckpt.config as { kind?: string; base?: string; grounding?: { tokenDim: number } };
  if (cfg.kind !== 'gligen' || !cfg.base || !cfg.grounding) throw new Error(`${file} is not a GLIGEN checkpoint`);
  const unet = groundedFromBase(baseFile ?? path.join(repoRoot(), cfg.base), { tokenDim: cfg.grounding.tokenDim });
  try {
    for (const [name, v] of gligenParams(unet)) {
      const t = ckpt.tensors.get(name);
      if (!t) throw new Error(`${file}: tensor '${name}' is missing`);
      if (t.shape.join() !== v.shape.join())
        throw new Error(`${file}: '${name}' is [${t.shape}], the model expects [${v.shape}]`);
      const x = tf.tensor(toFloat32(t), t.shape, 'float32');
      v.assign(x);
      x.dispose();
    }
  } catch (e) {
    unet.dispose();
    throw e;
  }
  return unet;
}

/** tanh(gamma) of every gated layer: how much each has opened during training. */
export async function gateValues(unet: Denoiser): Promise<Record<string, number>> {
  const gates = gateParams(unet);
  const out: Record<string, number> = {};
  if (!gates.length) return out;
  const all = tf.tidy(() => tf.concat(gates.map(([, v]) => tf.reshape(v, [-1]).slice(0, 1))));
  const values = await all.data(); // every gate in one read
  all.dispose();
  gates.forEach(([site], i) => (out[site] = Math.tanh(values[i])));
  return out;
}

/** [site, gamma] of every gated layer, in the ParamMap's order (site: a key of gateValues). */
function gateParams(unet: Denoiser): [string, tf.Tensor][] {
  return [...gligenParams(unet)]
    .filter(([n]) => n.endsWith('.gamma'))
    .map(([n, v]) => [n.replace('.gligen', '').slice(0, -'.gamma'.length), v]);
}

/**
 * The gated layer after the attention block `site` ('mid.attn', 'up.0.attn.1': a key of gateValues)
 * and the shared grounding tokenizer, built as the UNet builds them and given copies of `unet`'s
 * weights: their apply() is the code the UNet runs there, callable on its own (lesson 14 checks its
 * hand-written layer against it). Dispose the copies with disposeParams(params).
 */
export function gatedLayerAt(
  unet: Denoiser,
  site: string,
): { layer: GatedSelfAttention; tokenizer: GroundingTokenizer; params: ParamMap } {
  const grounding = groundingOf(unet);
  if (!grounding) throw new Error('gatedLayerAt: the UNet has no grounding layers (GLIGEN hook)');
  const cut = site.lastIndexOf('attn');
  const level = site.slice(0, Math.max(0, cut - 1));
  const qkv = unet.params.get(`${level}.gligen.${site.slice(cut)}.qkv.weight`);
  if (cut < 1 || !qkv)
    throw new Error(
      `gatedLayerAt: no gated layer after '${site}' (sites: ${gateParams(unet)
        .map(([site]) => site)
        .join(', ')})`,
    );
  const c = unet.config;
  const store = new ParamStore(new Rng(0));
  const layer = store.scope(level, () =>
    store.scope(
      'gligen',
      () =>
        new GatedSelfAttention(store, site.slice(cut), qkv.shape[0], grounding.tokenDim, c.attentionHeads, c.groups),
    ),
  );
  const tokenizer = store.scope('gligen', () => new GroundingTokenizer(store, 'tokenizer', grounding));
  for (const [name, v] of store.params) v.assign(unet.params.get(name)!);
  return { layer, tokenizer, params: store.params };
}
