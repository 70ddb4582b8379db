// The one object that configures a UNet, its validation, and the course's reference model.
// Only the core network's fields: a wrapper that adds its own parts (a text encoder, GLIGEN's layers)
// keeps its fields in its own config and builds a core UNet from the rest.

export interface UNetConfig {
  /** Square input side in pixels; must be divisible by 2^(levels-1). */
  imageSize: number;
  inChannels: number;
  outChannels: number;
  /** Channels of the first level; level i has baseChannels * channelMults[i]. */
  baseChannels: number;
  channelMults: number[];
  /** Residual blocks per level on the way down (the way up has one more, for the extra skip). */
  numResBlocks: number;
  /** Resolutions (side in pixels) at which self-attention follows each residual block. */
  attentionResolutions: number[];
  attentionHeads: number;
  /** GroupNorm groups; every normalised channel count must be divisible by it. */
  groups: number;
  /** 'conv': 3x3 stride-2 conv (learned); 'avgpool': 2x2 average pool (no parameters). */
  downsample: 'conv' | 'avgpool';
  /** Attention (self, and cross if contextDim) in the bottleneck between the two middle ResBlocks. */
  midAttention: boolean;
  /** Class conditioning: an embedding of numClasses + 1 rows; row numClasses is the null class (CFG). */
  numClasses?: number;
  /** Extra input channels concatenated to x (super-resolution, inpainting masks). */
  condChannels?: number;
  /** Width of a context sequence that attention blocks cross-attend to (text, boxes). */
  contextDim?: number;
  /**
   * Width of a condition vector (cond.vector [B, vectorDim]) projected into the time embedding, so it
   * reaches every ResBlock: unCLIP's decoder adds the CLIP image embedding this way, besides reading
   * it through cross-attention.
   */
  vectorDim?: number;
  /**
   * Two extra input channels holding each pixel's x and y in [-1, 1] (CoordConv), so words like
   * "top left" can be tied to places: convolutions alone barely know where they are.
   */
  positionChannels?: boolean;
}

// Every field of UNetConfig (the Record type makes the compiler check the list): anything else in a
// config is refused by name.
const FIELD_SET: Record<keyof UNetConfig, true> = {
  imageSize: true,
  inChannels: true,
  outChannels: true,
  baseChannels: true,
  channelMults: true,
  numResBlocks: true,
  attentionResolutions: true,
  attentionHeads: true,
  groups: true,
  downsample: true,
  midAttention: true,
  numClasses: true,
  condChannels: true,
  contextDim: true,
  vectorDim: true,
  positionChannels: true,
};
const CONFIG_FIELDS = Object.keys(FIELD_SET);

/** Fields with defaults; the rest are required. */
export type UNetConfigInput = Pick<UNetConfig, 'imageSize' | 'inChannels' | 'outChannels'> & Partial<UNetConfig>;

/**
 * Only the core UNet's fields of a config that may hold a wrapper's too (a text UNet's `text`): for
 * reading the core network's shape (FLOP counts), never for building a model, which must refuse
 * fields it would drop.
 */
export function coreUNetConfig(c: UNetConfigInput): UNetConfigInput {
  return Object.fromEntries(Object.entries(c).filter(([k]) => CONFIG_FIELDS.includes(k))) as UNetConfigInput;
}

export function resolveUNetConfig(c: UNetConfigInput): UNetConfig {
  const cfg: UNetConfig = {
    baseChannels: 32,
    channelMults: [1, 2, 2],
    numResBlocks: 1,
    attentionResolutions: [],
    attentionHeads: 4,
    groups: 8,
    downsample: 'conv',
    midAttention: true,
    ...c,
  };
  // Own copies, so later edits of the caller's arrays cannot change a built model's config.
  cfg.channelMults = [...cfg.channelMults];
  cfg.attentionResolutions = [...cfg.attentionResolutions];
  validateUNetConfig(cfg);
  return cfg;
}

function posInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`UNetConfig.${name} must be a positive integer, got ${String(v)}`);
  }
}

export function validateUNetConfig(c: UNetConfig): void {
  // A field the core does not know would be dropped silently: a text UNet's config passed here would
  // build a network without its text encoder.
  const unknown = Object.keys(c).filter(
    (k) => !CONFIG_FIELDS.includes(k) && (c as unknown as Record<string, unknown>)[k] !== undefined,
  );
  if (unknown.length) {
    throw new Error(
      `UNetConfig: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; the core UNet's fields are ${CONFIG_FIELDS.join(', ')} (a wrapper such as a text UNet builds the core from its own config)`,
    );
  }
  posInt('imageSize', c.imageSize);
  posInt('inChannels', c.inChannels);
  posInt('outChannels', c.outChannels);
  posInt('baseChannels', c.baseChannels);
  posInt('groups', c.groups);
  posInt('attentionHeads', c.attentionHeads);
  if (!Number.isInteger(c.numResBlocks) || c.numResBlocks < 1) {
    throw new Error(`UNetConfig.numResBlocks must be an integer >= 1, got ${c.numResBlocks}`);
  }
  if (!Array.isArray(c.channelMults) || c.channelMults.length === 0) {
    throw new Error('UNetConfig.channelMults must list at least one level');
  }
  c.channelMults.forEach((m, i) => posInt(`channelMults[${i}]`, m));
  if (c.downsample !== 'conv' && c.downsample !== 'avgpool') {
    throw new Error(`UNetConfig.downsample must be 'conv' or 'avgpool', got '${String(c.downsample)}'`);
  }
  const factor = 2 ** (c.channelMults.length - 1);
  if (c.imageSize % factor !== 0) {
    throw new Error(
      `UNetConfig: imageSize ${c.imageSize} is not divisible by ${factor} (2^${c.channelMults.length - 1} downsamplings for ${c.channelMults.length} levels)`,
    );
  }
  const sides = c.channelMults.map((_, i) => c.imageSize / 2 ** i);
  for (const r of c.attentionResolutions) {
    if (!sides.includes(r))
      throw new Error(`UNetConfig: attention resolution ${r} is not one of the levels' sides [${sides}]`);
  }
  if (c.numClasses !== undefined) posInt('numClasses', c.numClasses);
  if (c.condChannels !== undefined) posInt('condChannels', c.condChannels);
  if (c.vectorDim !== undefined) posInt('vectorDim', c.vectorDim);
  if (c.contextDim !== undefined) {
    posInt('contextDim', c.contextDim);
    if (c.attentionResolutions.length === 0 && !c.midAttention)
      throw new Error(
        'UNetConfig: contextDim needs attention blocks (attentionResolutions or midAttention) to cross-attend from',
      );
  }
  if (c.positionChannels !== undefined && typeof c.positionChannels !== 'boolean')
    throw new Error(`UNetConfig.positionChannels must be a boolean, got ${String(c.positionChannels)}`);
  // Every GroupNorm input: level widths, and the up path's concatenations with skips.
  for (const ch of normalisedChannels(c)) {
    if (ch % c.groups !== 0) throw new Error(`UNetConfig: ${ch} channels are not divisible by groups=${c.groups}`);
  }
  c.channelMults.forEach((m, i) => {
    const ch = c.baseChannels * m;
    const attn = c.attentionResolutions.includes(sides[i]) || (i === c.channelMults.length - 1 && c.midAttention);
    if (attn && ch % c.attentionHeads !== 0) {
      throw new Error(
        `UNetConfig: ${ch} channels at ${sides[i]}x${sides[i]} are not divisible by attentionHeads=${c.attentionHeads}`,
      );
    }
  });
}

/** Channel counts that pass through a GroupNorm, in build order. */
function normalisedChannels(c: UNetConfig): number[] {
  const out: number[] = [];
  const skips: number[] = [c.baseChannels];
  let ch = c.baseChannels;
  const L = c.channelMults.length;
  for (let i = 0; i < L; i++) {
    const w = c.baseChannels * c.channelMults[i];
    for (let j = 0; j < c.numResBlocks; j++) {
      out.push(ch, w);
      ch = w;
      skips.push(ch);
    }
    if (i < L - 1) skips.push(ch);
  }
  for (let i = L - 1; i >= 0; i--) {
    const w = c.baseChannels * c.channelMults[i];
    for (let j = 0; j <= c.numResBlocks; j++) {
      out.push(ch + skips.pop()!, w);
      ch = w;
    }
  }
  return out;
}

/**
 * The lessons' reference model for 28x28x1 Fashion-MNIST.
 * Levels 28 -> 14 -> 7 with 32/64/64 channels, two ResBlocks a level and attention only at 7x7
 * (49 tokens: attention at 28x28 would cost 784^2 scores per head for little gain on this data).
 * About 1.6M parameters: the size published DDPM re-implementations use for (Fashion-)MNIST, large
 * enough for recognisable samples, while most FLOPs stay in the 28x28 level's 32-channel convs.
 */
export function referenceUNetConfig(overrides: Partial<UNetConfig> = {}): UNetConfig {
  return resolveUNetConfig({
    imageSize: 28,
    inChannels: 1,
    outChannels: 1,
    baseChannels: 32,
    channelMults: [1, 2, 2],
    numResBlocks: 2,
    attentionResolutions: [7],
    attentionHeads: 4,
    groups: 8,
    downsample: 'conv',
    midAttention: true,
    ...overrides,
  });
}
