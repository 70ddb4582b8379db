// Figure 11 of the article (a UNet with t and the condition as inputs) drawn from a real model.
// unetStructure() walks the UNet's named parameters (down.<i>.res.<j>.conv1.weight, ...) and reads
// every block and channel count off the weight shapes, replays the forward pass's skip stack to
// pair each up-path block with the down-path activation it concatenates (checking the channel sums
// against the weights), and takes only the image side per level from the config (sides have no
// weights). unetDiagramSvg() draws that structure, so a changed config or model changes the picture.
import { escapeXml } from '../display/svg_fallback';
import { sendDisplay, inKernel } from '../../core/kernel_display';
import type { Denoiser } from '../../core/unet/denoiser';
import type { UNetConfig } from '../../core/unet/config';
import { isTextUNetConfig } from '../../methods/text/text_unet';

/** 'gated': a layer a hook inserted after an attention block (GLIGEN's gated self-attention). */
export type BlockKind = 'convIn' | 'res' | 'attn' | 'gated' | 'downsample' | 'upsample' | 'out';

export interface DiagramBlock {
  /** The parameter prefix in the model ('down.1.res.0'); avg-pool downsamples, which have none, get 'down.<i>.pool'. */
  id: string;
  kind: BlockKind;
  label: string;
  /** Side of the block's output feature map in pixels. */
  side: number;
  inChannels: number;
  outChannels: number;
  params: number;
  /** ResBlocks add the time (+ class) embedding. */
  usesTime: boolean;
  /** Attention blocks that also cross-attend to the context sequence. */
  crossAttention: boolean;
}

export interface DiagramLevel {
  index: number;
  side: number;
  channels: number;
  /** In forward order: ResBlocks (each followed by its attention, if any), then the downsample. */
  down: DiagramBlock[];
  /** In forward order: ResBlocks (+ attention), then the upsample. */
  up: DiagramBlock[];
}

/** A down-path activation concatenated to the input of an up-path ResBlock. */
export interface SkipEdge {
  from: string;
  to: string;
  channels: number;
  side: number;
}

export interface UNetStructure {
  config: UNetConfig;
  input: { side: number; channels: number; concatChannels: number };
  time: { sinusoidDim: number; embDim: number; params: number };
  classes: { count: number; params: number } | null;
  contextDim: number | null;
  /** The text transformer inside the UNet (GLIDE), with the projection of its [EOS] vector into the time embedding. */
  text: { layers: number; width: number; contextLength: number; vocab: number; params: number } | null;
  /** A condition vector projected into the time embedding (config.vectorDim; unCLIP's image embedding). */
  vector: { dim: number; params: number } | null;
  /** GLIGEN's grounding tokenizer (the MLP shared by the gated layers): input and token width. */
  grounding: { inputDim: number; tokenDim: number; params: number } | null;
  convIn: DiagramBlock;
  levels: DiagramLevel[];
  mid: DiagramBlock[];
  out: DiagramBlock;
  skips: SkipEdge[];
  totalParams: number;
}

type Shapes = Map<string, number[]>;

function shapesOf(unet: Denoiser): Shapes {
  const m: Shapes = new Map();
  for (const [name, v] of unet.params) m.set(name, [...v.shape]);
  return m;
}

function need(shapes: Shapes, name: string): number[] {
  const s = shapes.get(name);
  if (!s) throw new Error(`unetStructure: the model has no parameter '${name}'`);
  return s;
}

// A block exists when any parameter lives under its prefix; need() then reports a missing weight by name.
function hasBlock(shapes: Shapes, prefix: string): boolean {
  for (const name of shapes.keys()) if (name.startsWith(prefix + '.')) return true;
  return false;
}

function countUnder(shapes: Shapes, prefix: string): number {
  let n = 0;
  for (const [name, s] of shapes)
    if (name === prefix || name.startsWith(prefix + '.')) n += s.reduce((a, b) => a * b, 1);
  return n;
}

function resBlock(shapes: Shapes, id: string, side: number): DiagramBlock {
  const w = need(shapes, `${id}.conv1.weight`); // [kh, kw, in, out]
  return {
    id,
    kind: 'res',
    label: `ResBlock ${w[2]}→${w[3]}`,
    side,
    inChannels: w[2],
    outChannels: w[3],
    params: countUnder(shapes, id),
    usesTime: true,
    crossAttention: false,
  };
}

function attnBlock(shapes: Shapes, id: string, side: number, heads: number): DiagramBlock | null {
  const qkv = shapes.get(`${id}.qkv.weight`); // [C, 3C]
  if (!qkv) return null;
  const cross = shapes.has(`${id}.cross.kv.weight`);
  const c = qkv[0];
  return {
    id,
    kind: 'attn',
    label: `Attn ${heads}h${cross ? ' +cross' : ''}`,
    side,
    inChannels: c,
    outChannels: c,
    params: countUnder(shapes, id),
    usesTime: false,
    crossAttention: cross,
  };
}

// GLIGEN's gated self-attention after attention block '<level>.attn.<j>' lives at '<level>.gligen.attn.<j>'.
function gatedBlock(shapes: Shapes, attnId: string, side: number): DiagramBlock | null {
  const cut = attnId.lastIndexOf('attn');
  const id = `${attnId.slice(0, cut)}gligen.${attnId.slice(cut)}`;
  const qkv = shapes.get(`${id}.qkv.weight`);
  if (!qkv) return null;
  return {
    id,
    kind: 'gated',
    label: 'gated self-attention',
    side,
    inChannels: qkv[0],
    outChannels: qkv[0],
    params: countUnder(shapes, id),
    usesTime: false,
    crossAttention: false,
  };
}

function conv(shapes: Shapes, id: string, kind: BlockKind, label: string, side: number): DiagramBlock {
  const w = need(shapes, `${id}.weight`);
  return {
    id,
    kind,
    label,
    side,
    inChannels: w[2],
    outChannels: w[3],
    params: countUnder(shapes, id),
    usesTime: false,
    crossAttention: false,
  };
}

/** The model's real block structure, read off its parameters (see the file comment). */
export function unetStructure(unet: Denoiser): UNetStructure {
  const c = unet.config;
  const shapes = shapesOf(unet);
  const levelsInModel = new Set(
    [...shapes.keys()].filter((n) => n.startsWith('down.')).map((n) => Number(n.split('.')[1])),
  );
  const L = levelsInModel.size;
  if (L !== c.channelMults.length)
    throw new Error(`unetStructure: the model has ${L} down levels, its config ${c.channelMults.length}`);
  const sideOf = (i: number) => c.imageSize / 2 ** i;

  const lin1 = need(shapes, 'time.lin1.weight');
  const lin2 = need(shapes, 'time.lin2.weight');
  const cls = shapes.get('classEmb.weight');
  const convIn = conv(shapes, 'convIn', 'convIn', '', c.imageSize);
  convIn.label = `conv3×3 ${convIn.inChannels}→${convIn.outChannels}`;

  // The forward pass's skip stack: every down-path output that the up path later concatenates.
  const stack: DiagramBlock[] = [convIn];
  const levels: DiagramLevel[] = [];
  let last = convIn;
  for (let i = 0; i < L; i++) {
    const side = sideOf(i);
    const lv: DiagramLevel = { index: i, side, channels: 0, down: [], up: [] };
    for (let j = 0; hasBlock(shapes, `down.${i}.res.${j}`); j++) {
      last = resBlock(shapes, `down.${i}.res.${j}`, side);
      lv.down.push(last);
      const a = attnBlock(shapes, `down.${i}.attn.${j}`, side, c.attentionHeads);
      if (a) lv.down.push((last = a));
      const g = gatedBlock(shapes, `down.${i}.attn.${j}`, side);
      if (g) lv.down.push((last = g));
      stack.push(last);
    }
    lv.channels = last.outChannels;
    if (i < L - 1) {
      const ds = shapes.has(`down.${i}.down.weight`)
        ? conv(shapes, `down.${i}.down`, 'downsample', 'conv3×3 stride 2', sideOf(i + 1))
        : {
            id: `down.${i}.pool`,
            kind: 'downsample' as const,
            label: 'avg-pool 2×2',
            side: sideOf(i + 1),
            inChannels: last.outChannels,
            outChannels: last.outChannels,
            params: 0,
            usesTime: false,
            crossAttention: false,
          };
      lv.down.push((last = ds));
      stack.push(ds);
    }
    levels.push(lv);
  }

  const mid: DiagramBlock[] = [resBlock(shapes, 'mid.res1', sideOf(L - 1))];
  const midAttn = attnBlock(shapes, 'mid.attn', sideOf(L - 1), c.attentionHeads);
  if (midAttn) mid.push(midAttn);
  const midGated = gatedBlock(shapes, 'mid.attn', sideOf(L - 1));
  if (midGated) mid.push(midGated);
  mid.push(resBlock(shapes, 'mid.res2', sideOf(L - 1)));
  let ch = mid[mid.length - 1].outChannels;

  const skips: SkipEdge[] = [];
  for (let i = L - 1; i >= 0; i--) {
    const side = sideOf(i);
    const lv = levels[i];
    for (let j = 0; hasBlock(shapes, `up.${i}.res.${j}`); j++) {
      const rb = resBlock(shapes, `up.${i}.res.${j}`, side);
      const src = stack.pop();
      if (!src) throw new Error(`unetStructure: up.${i}.res.${j} has no down-path activation left to concatenate`);
      // The weights must agree with the replayed concatenation, or this walk no longer mirrors unet.ts.
      if (rb.inChannels !== ch + src.outChannels) {
        throw new Error(
          `unetStructure: up.${i}.res.${j} takes ${rb.inChannels} channels, but ${ch} + skip ${src.outChannels} from ${src.id} arrive`,
        );
      }
      rb.label = `ResBlock ${ch}+${src.outChannels}→${rb.outChannels}`;
      skips.push({ from: src.id, to: rb.id, channels: src.outChannels, side });
      lv.up.push(rb);
      ch = rb.outChannels;
      const a = attnBlock(shapes, `up.${i}.attn.${j}`, side, c.attentionHeads);
      if (a) lv.up.push(a);
      const g = gatedBlock(shapes, `up.${i}.attn.${j}`, side);
      if (g) lv.up.push(g);
    }
    if (i > 0) lv.up.push(conv(shapes, `up.${i}.up`, 'upsample', 'nearest ×2 + conv3×3', sideOf(i - 1)));
  }
  if (stack.length) throw new Error(`unetStructure: ${stack.length} down-path activations were never concatenated`);

  const convOut = need(shapes, 'convOut.weight');
  const out: DiagramBlock = {
    id: 'convOut',
    kind: 'out',
    label: `GroupNorm·SiLU·conv3×3 ${convOut[2]}→${convOut[3]}`,
    side: c.imageSize,
    inChannels: convOut[2],
    outChannels: convOut[3],
    params: countUnder(shapes, 'normOut') + countUnder(shapes, 'convOut'),
    usesTime: false,
    crossAttention: false,
  };
  return {
    config: c,
    input: { side: c.imageSize, channels: c.inChannels, concatChannels: convIn.inChannels - c.inChannels },
    time: { sinusoidDim: lin1[0], embDim: lin2[1], params: countUnder(shapes, 'time') },
    classes: cls ? { count: cls[0] - 1, params: cls[0] * cls[1] } : null,
    contextDim: [...shapes.keys()].some((n) => n.endsWith('.cross.kv.weight')) ? (c.contextDim ?? null) : null,
    text: isTextUNetConfig(c)
      ? {
          layers: c.text.layers,
          width: c.text.width,
          contextLength: c.text.contextLength,
          vocab: c.text.vocab.length,
          params: countUnder(shapes, 'text') + countUnder(shapes, 'textToTime'),
        }
      : null,
    vector: c.vectorDim ? { dim: c.vectorDim, params: countUnder(shapes, 'vectorToTime') } : null,
    grounding: shapes.has('gligen.tokenizer.fc1.weight')
      ? {
          inputDim: need(shapes, 'gligen.tokenizer.fc1.weight')[0],
          tokenDim: need(shapes, 'gligen.tokenizer.fc2.weight')[1],
          params: countUnder(shapes, 'gligen.tokenizer'),
        }
      : null,
    convIn,
    levels,
    mid,
    out,
    skips,
    totalParams: [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0),
  };
}

/** Parameters per part of the network, in forward order (they add up to the model's total). */
export function paramCountsByPart(s: UNetStructure): { part: string; params: number }[] {
  const sum = (bs: DiagramBlock[]) => bs.reduce((n, b) => n + b.params, 0);
  const parts = [{ part: 'time embedding', params: s.time.params }];
  if (s.classes) parts.push({ part: 'class embedding', params: s.classes.params });
  if (s.text) parts.push({ part: 'text encoder', params: s.text.params });
  if (s.vector) parts.push({ part: 'vector projection', params: s.vector.params });
  if (s.grounding) parts.push({ part: 'grounding tokenizer', params: s.grounding.params });
  parts.push({ part: 'input conv', params: s.convIn.params });
  s.levels.forEach((l) => parts.push({ part: `down ${l.side}×${l.side}`, params: sum(l.down) }));
  parts.push({ part: 'middle', params: sum(s.mid) });
  [...s.levels].reverse().forEach((l) => parts.push({ part: `up ${l.side}×${l.side}`, params: sum(l.up) }));
  parts.push({ part: 'output', params: s.out.params });
  return parts;
}

// ---- drawing ----

const BOX_W = 200;
const CHIP_W = 92;
const ROW_H = 30;
const BOX_H = 22;
const LEFT_X = 120;
const RIGHT_X = 600;
const COLORS = {
  res: '#dbe9f6',
  attn: '#fde2c8',
  gated: '#fbf3a6',
  resample: '#e4e4e4',
  io: '#e3f1dc',
  time: '#f6d7d7',
  ctx: '#e9dcf3',
};

interface Placed {
  x: number;
  y: number;
  w: number;
}

/** A labelled box; padL/padR keep the label clear of badges drawn at the box's edges. */
function box(x: number, y: number, w: number, fill: string, text: string, title: string, padL = 0, padR = 0): string {
  const size = w < 170 ? 10 : 11;
  return (
    `<g><title>${escapeXml(title)}</title><rect x="${x}" y="${y}" width="${w}" height="${BOX_H}" rx="4" fill="${fill}" stroke="#555"/>` +
    `<text x="${x + padL + (w - padL - padR) / 2}" y="${y + 15}" text-anchor="middle" font-size="${size}">${escapeXml(text)}</text></g>`
  );
}

const badgeWidth = (text: string) => 8 + 6 * text.length;

function badge(x: number, y: number, text: string, fill: string): string {
  return `<rect x="${x}" y="${y + 4}" width="${badgeWidth(text)}" height="14" rx="7" fill="${fill}" stroke="#999"/><text x="${x + 4 + 3 * text.length}" y="${y + 15}" text-anchor="middle" font-size="9">${escapeXml(text)}</text>`;
}

// One arrow-head marker per line colour (SVG 1.1 markers cannot take the line's colour).
const MARKERS = ['#444', '#2a6f2a', '#1f5fa8'];

function arrow(x1: number, y1: number, x2: number, y2: number, dashed = false, color = '#444'): string {
  const id = MARKERS.indexOf(color) < 0 ? 0 : MARKERS.indexOf(color);
  return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color}" stroke-width="1.3"${dashed ? ' stroke-dasharray="4 3"' : ''} marker-end="url(#arr${id})"/>`;
}

function blockTitle(b: DiagramBlock): string {
  return `${b.id}: ${b.label}, ${b.side}×${b.side}, ${b.inChannels}→${b.outChannels} channels, ${b.params.toLocaleString('en')} parameters`;
}

/** Draws figure 11 for a model (or its structure): the U of blocks, skips, and where t, class and context enter. */
export function unetDiagramSvg(model: Denoiser | UNetStructure, opts: { title?: string } = {}): string {
  const s = 'levels' in model ? model : unetStructure(model);
  const parts: string[] = [];
  const placed = new Map<string, Placed>();
  const tBadge = s.classes ? 't+y' : s.vector ? 't+v' : 't';
  const W = 1000;
  let y = 54;

  // Inputs and output row.
  const xin =
    s.input.concatChannels > 0
      ? `x_t ${s.input.side}×${s.input.side}×${s.input.channels} ⊕ cond ${s.input.concatChannels}ch`
      : `x_t ${s.input.side}×${s.input.side}×${s.input.channels}`;
  parts.push(
    box(
      LEFT_X,
      y,
      BOX_W,
      COLORS.io,
      xin,
      'input image' + (s.input.concatChannels ? ' concatenated with the condition image(s)' : ''),
    ),
  );
  parts.push(
    box(
      RIGHT_X,
      y,
      BOX_W,
      COLORS.io,
      `output ${s.out.side}×${s.out.side}×${s.out.outChannels} (ε̂)`,
      'the network prediction',
    ),
  );
  const temb = `t → sin/cos(${s.time.sinusoidDim}) → MLP → ${s.time.embDim}`;
  parts.push(
    box(350, y - 36, 220, COLORS.time, temb, `time embedding, ${s.time.params.toLocaleString('en')} parameters`),
  );
  if (s.classes)
    parts.push(
      box(
        350,
        y - 10,
        220,
        COLORS.time,
        `+ class y: table ${s.classes.count + 1}×${s.time.embDim}`,
        `class embedding (row ${s.classes.count} = null class for CFG)`,
      ),
    );
  else if (s.vector)
    parts.push(
      box(
        350,
        y - 10,
        220,
        COLORS.time,
        `+ vector v: linear ${s.vector.dim} → ${s.time.embDim}`,
        'a condition vector (e.g. a CLIP image embedding) projected into the time embedding',
      ),
    );
  if (s.contextDim !== null) {
    const t = s.text;
    const label = t
      ? `text transformer ${t.layers}×${t.width} → [${t.contextLength}×${t.width}]`
      : `context [L×${s.contextDim}] (text, boxes)`;
    const title = t
      ? `captions → ${t.vocab}-word tokenizer → ${t.layers}-layer transformer (${t.params.toLocaleString('en')} parameters): its tokens are the cross-attention context, its [EOS] vector is added to the time embedding`
      : 'sequence that attention blocks cross-attend to';
    parts.push(box(350, y + 16, 220, COLORS.ctx, label, title));
  }
  if (s.grounding) {
    const g = s.grounding;
    parts.push(
      box(
        330,
        y + 42,
        340,
        COLORS.gated,
        `grounding hᵉ = MLP([Fourier(box), phrase]) ${g.inputDim}→${g.tokenDim}`,
        `GLIGEN's grounding tokenizer (${g.params.toLocaleString('en')} parameters): one token hᵉ per object, read by every gated layer`,
      ),
    );
  }
  y += ROW_H + (s.classes || s.vector || s.contextDim !== null ? 20 : 8) + (s.grounding ? 30 : 0);

  const out = { x: RIGHT_X, y: 54 };
  // The rightmost edge drawn so far: the up path's chips push the upsample chips and the width out.
  let maxX = 0;
  const lineWidth = (blocks: DiagramBlock[]) =>
    blocks.reduce(
      (n, b) =>
        n +
        4 +
        (b.kind === 'attn' || b.kind === 'gated' || b.kind === 'downsample' || b.kind === 'upsample'
          ? CHIP_W
          : BOX_W - (blocks.length > 1 ? CHIP_W / 2 : 0)),
      0,
    );
  const drawBlockLine = (xs: number, yy: number, blocks: DiagramBlock[]) => {
    let x = xs;
    for (const b of blocks) {
      const w =
        b.kind === 'attn' || b.kind === 'gated' || b.kind === 'downsample' || b.kind === 'upsample'
          ? CHIP_W
          : BOX_W - (blocks.length > 1 ? CHIP_W / 2 : 0);
      const fill =
        b.kind === 'attn'
          ? COLORS.attn
          : b.kind === 'gated'
            ? COLORS.gated
            : b.kind === 'res'
              ? COLORS.res
              : b.kind === 'convIn'
                ? COLORS.io
                : COLORS.resample;
      const text =
        b.kind === 'downsample'
          ? b.params
            ? '↓ conv s2'
            : '↓ avgpool'
          : b.kind === 'upsample'
            ? '↑ ×2 + conv'
            : b.kind === 'attn'
              ? `Attn ${s.config.attentionHeads}h`
              : b.kind === 'gated'
                ? 'gated SA'
                : b.label;
      const gated = b.kind === 'gated';
      parts.push(
        box(
          x,
          yy,
          w,
          fill,
          text,
          blockTitle(b),
          b.crossAttention ? badgeWidth('ctx') + 2 : 0,
          b.usesTime ? badgeWidth(tBadge) + 2 : gated ? badgeWidth('hᵉ') + 2 : 0,
        ),
      );
      if (b.usesTime) parts.push(badge(x + w - badgeWidth(tBadge) - 2, yy, tBadge, COLORS.time));
      if (gated) parts.push(badge(x + w - badgeWidth('hᵉ') - 2, yy, 'hᵉ', COLORS.gated));
      if (b.crossAttention) parts.push(badge(x + 2, yy, 'ctx', COLORS.ctx));
      placed.set(b.id, { x, y: yy, w });
      x += w + 4;
      maxX = Math.max(maxX, x);
    }
  };

  // One row per level and one line per skip producer; up blocks sit on their skip source's line.
  let prevLeftBottom = 54 + BOX_H;
  for (const lv of s.levels) {
    parts.push(
      `<text x="12" y="${y + 16}" font-size="12" font-weight="bold">${lv.side}×${lv.side}</text><text x="12" y="${y + 30}" font-size="10" fill="#555">${lv.channels} ch</text>`,
    );
    const top = y;
    // Lines: the level's entry (input conv, or the previous level's downsample), then each ResBlock (+ attention).
    const lines: DiagramBlock[][] = [];
    lines.push(lv.index === 0 ? [s.convIn] : [s.levels[lv.index - 1].down[s.levels[lv.index - 1].down.length - 1]]);
    for (const b of lv.down) {
      if (b.kind === 'res') lines.push([b]);
      else if (b.kind === 'attn' || b.kind === 'gated') lines[lines.length - 1].push(b);
    }
    lines.forEach((ln, k) => drawBlockLine(LEFT_X, top + k * ROW_H, ln));
    parts.push(arrow(LEFT_X + 20, prevLeftBottom, LEFT_X + 20, top));
    for (let k = 1; k < lines.length; k++)
      parts.push(arrow(LEFT_X + 20, top + (k - 1) * ROW_H + BOX_H, LEFT_X + 20, top + k * ROW_H));
    prevLeftBottom = top + (lines.length - 1) * ROW_H + BOX_H;
    // Up path: each ResBlock on the line of the activation it concatenates.
    const lineOf = new Map<string, number>();
    lines.forEach((ln, k) => ln.forEach((b) => lineOf.set(b.id, k)));
    const upLines = new Map<number, DiagramBlock[]>();
    let cur = -1;
    for (const b of lv.up) {
      if (b.kind === 'res') {
        const e = s.skips.find((k) => k.to === b.id);
        const src = e ? lines.findIndex((ln) => ln[ln.length - 1].id === e.from) : -1;
        cur = src >= 0 ? src : cur;
        upLines.set(cur, [b]);
      } else if (b.kind === 'attn' || b.kind === 'gated') upLines.get(cur)?.push(b);
    }
    for (const [k, ln] of upLines) drawBlockLine(RIGHT_X, top + k * ROW_H, ln);
    const ups = lv.up.find((b) => b.kind === 'upsample');
    // Right of the attention (and gated) chips of the top line, so they never overlap.
    const topWidth = Math.max(BOX_W + CHIP_W / 2, upLines.has(0) ? lineWidth(upLines.get(0)!) : 0);
    if (ups) drawBlockLine(RIGHT_X + topWidth + 12, top, [ups]);
    y = top + lines.length * ROW_H + 16;
  }

  // Bottleneck.
  const midW = s.mid.length * (BOX_W - 40) + (s.mid.length - 1) * 8;
  let mx = (W - midW) / 2;
  parts.push(`<text x="12" y="${y + 16}" font-size="12" font-weight="bold">middle</text>`);
  parts.push(arrow(LEFT_X + 20, prevLeftBottom, mx, y + BOX_H / 2));
  for (const b of s.mid) {
    const fill = b.kind === 'attn' ? COLORS.attn : b.kind === 'gated' ? COLORS.gated : COLORS.res;
    const text =
      b.kind === 'attn' ? `Attn ${s.config.attentionHeads}h` : b.kind === 'gated' ? 'gated self-attn' : b.label;
    parts.push(
      box(
        mx,
        y,
        BOX_W - 40,
        fill,
        text,
        blockTitle(b),
        b.crossAttention ? badgeWidth('ctx') + 2 : 0,
        b.usesTime ? badgeWidth(tBadge) + 2 : b.kind === 'gated' ? badgeWidth('hᵉ') + 2 : 0,
      ),
    );
    if (b.usesTime) parts.push(badge(mx + BOX_W - 40 - badgeWidth(tBadge) - 2, y, tBadge, COLORS.time));
    if (b.kind === 'gated') parts.push(badge(mx + BOX_W - 40 - badgeWidth('hᵉ') - 2, y, 'hᵉ', COLORS.gated));
    if (b.crossAttention) parts.push(badge(mx + 2, y, 'ctx', COLORS.ctx));
    placed.set(b.id, { x: mx, y, w: BOX_W - 40 });
    mx += BOX_W - 40 + 8;
  }
  const midEnd = placed.get(s.mid[s.mid.length - 1].id)!;

  // Up-path flow (bottom to top) and skips (dashed, left to right).
  const upOrder: DiagramBlock[] = [];
  for (let i = s.levels.length - 1; i >= 0; i--) for (const b of s.levels[i].up) if (b.kind === 'res') upOrder.push(b);
  let prev: Placed = { x: midEnd.x + midEnd.w - 20, y: midEnd.y, w: 0 };
  for (const b of upOrder) {
    const p = placed.get(b.id);
    if (!p) continue;
    parts.push(arrow(prev.x, prev.y, RIGHT_X + BOX_W - 60, p.y + BOX_H, false, '#2a6f2a'));
    prev = { x: RIGHT_X + BOX_W - 60, y: p.y, w: 0 };
  }
  parts.push(arrow(prev.x, prev.y, RIGHT_X + BOX_W - 60, out.y + BOX_H, false, '#2a6f2a'));
  for (const e of s.skips) {
    const a = placed.get(e.from);
    const b = placed.get(e.to);
    if (!a || !b) continue;
    const yy = b.y + BOX_H / 2;
    parts.push(arrow(a.x + a.w, yy, b.x, yy, true, '#1f5fa8'));
    parts.push(
      `<text x="${(a.x + a.w + b.x) / 2}" y="${yy - 3}" text-anchor="middle" font-size="9" fill="#1f5fa8">skip ${e.channels}</text>`,
    );
  }

  const gatedCount = countKind(s, 'gated');
  const H = y + BOX_H + 60 + (gatedCount ? 16 : 0);
  const W2 = Math.max(W, maxX + 12);
  const gatedLegend = gatedCount
    ? `<text x="12" y="${H - 50}" font-size="10" fill="#333">${escapeXml(`yellow, badge "hᵉ": ${gatedCount} new layers v ← v + tanh(γ)·TS(SelfAttn([v, hᵉ])), trained (${(countGated(s) + (s.grounding?.params ?? 0)).toLocaleString('en')} parameters with the MLP); all else frozen`)}</text>`
    : '';
  const legend =
    gatedLegend +
    `<text x="12" y="${H - 34}" font-size="10" fill="#333">${escapeXml(`badge "${tBadge}": the time${s.classes ? ' + class' : s.vector ? ' + vector' : ''} embedding is added in that ResBlock (${countKind(s, 'res')} of them)` + (s.contextDim !== null ? '; badge "ctx": cross-attention to the context' : ''))}</text>` +
    `<text x="12" y="${H - 18}" font-size="10" fill="#333">${escapeXml(`dashed: skip connections (concatenated); ${s.totalParams.toLocaleString('en')} parameters; hover a block for its parameter name and count`)}</text>`;
  const title =
    opts.title ??
    `UNet ${s.config.imageSize}×${s.config.imageSize}, channels ${s.levels.map((l) => l.channels).join('/')}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W2}" height="${H}" viewBox="0 0 ${W2} ${H}" font-family="sans-serif">` +
    `<defs>${MARKERS.map((c, i) => `<marker id="arr${i}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="${c}"/></marker>`).join('')}</defs>` +
    `<rect width="${W2}" height="${H}" fill="white"/>` +
    `<text x="12" y="14" font-size="13" font-weight="bold">${escapeXml(title)}</text>` +
    parts.join('') +
    legend +
    `</svg>`
  );
}

function countKind(s: UNetStructure, kind: BlockKind): number {
  const all = [...s.levels.flatMap((l) => [...l.down, ...l.up]), ...s.mid];
  return all.filter((b) => b.kind === kind).length;
}

function countGated(s: UNetStructure): number {
  const all = [...s.levels.flatMap((l) => [...l.down, ...l.up]), ...s.mid];
  return all.filter((b) => b.kind === 'gated').reduce((n, b) => n + b.params, 0);
}

/** A plain-text outline of the structure (one line per block), for logs and non-graphical frontends. */
export function formatUNetStructure(s: UNetStructure): string {
  const line = (b: DiagramBlock) =>
    `  ${b.id.padEnd(16)} ${b.label.padEnd(28)} ${String(b.side).padStart(3)}×${b.side}  ${b.params.toLocaleString('en').padStart(9)} params`;
  const out = [`UNet: ${s.totalParams.toLocaleString('en')} parameters`, line(s.convIn)];
  for (const l of s.levels) out.push(...l.down.map(line));
  out.push(...s.mid.map(line));
  for (const l of [...s.levels].reverse()) out.push(...l.up.map(line));
  out.push(line(s.out));
  return out.join('\n');
}

/** Shows the diagram in a notebook (SVG, with the text outline as fallback); prints the outline elsewhere. */
export function showUNetDiagram(model: Denoiser | UNetStructure, opts: { title?: string } = {}): void {
  const s = 'levels' in model ? model : unetStructure(model);
  const svg = unetDiagramSvg(s, opts);
  if (inKernel()) sendDisplay({ 'image/svg+xml': svg, 'text/plain': formatUNetStructure(s) });
  else console.log(formatUNetStructure(s));
}
