// 그림20 (Imagen's overview) drawn from the real objects: the frozen text encoder, the base UNet and
// the SR UNet, each box labelled with its actual config, tensor shapes and parameter count, so the
// picture changes when the configs do.
import { inKernel, sendDisplay } from '../../core/kernel_display';
import { countParams } from '../../core/params';
import { UNet } from '../../core/unet/unet';
import { Cascade } from '../../methods/imagen/cascade';
import { NOISE_AUG_BUCKETS, NOISE_AUG_STEP } from '../../methods/imagen/noise_aug';

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  lines: string[];
  fill: string;
}

export interface CascadeStage {
  title: string;
  lines: string[];
}

function unetLines(u: UNet, role: string): string[] {
  const c = u.config;
  const sides = c.channelMults.map((_, i) => c.imageSize / 2 ** i);
  const attn = [...c.attentionResolutions, ...(c.midAttention ? [sides[sides.length - 1]] : [])];
  return [
    role,
    `${c.imageSize}×${c.imageSize}×${c.outChannels}, levels ${sides.join('→')}`,
    `channels ${c.channelMults.map((m) => m * c.baseChannels).join('/')}`,
    `cross-attn to text at ${[...new Set(attn)].map((s) => `${s}×${s}`).join(', ')}`,
    ...(c.condChannels ? [`+${c.condChannels} input channels (low-res image)`] : []),
    ...(c.numClasses ? [`aug-level embedding (${c.numClasses} levels)`] : []),
    `${countParams(u.params).toLocaleString('en')} params (trained)`,
  ];
}

/** The stages as text (title + lines), from the objects: what the SVG draws and what tests check. */
export function cascadeStages(c: Cascade): CascadeStage[] {
  const t = c.encoder.mlm.config;
  return [
    { title: 'caption', lines: ['"a small red circle at the', 'top left and a large blue', 'square in the center"'] },
    {
      title: 'frozen text encoder (MLM-pretrained)',
      lines: [
        `${t.layers} transformer layers, width ${t.width}, ${t.heads} heads`,
        `vocab ${t.vocab.length}, ${t.contextLength} tokens`,
        `${countParams(c.encoder.mlm.params).toLocaleString('en')} params, NOT trained here`,
        `→ context [B, ${t.contextLength}, ${t.width}] + mask`,
      ],
    },
    {
      title: `base model ${c.base.config.imageSize}×${c.base.config.imageSize}`,
      lines: unetLines(c.base, 'text → image, CFG on text'),
    },
    {
      title: 'noise conditioning augmentation',
      lines: [
        `z = √(1−γ²)·x₁₆ + γ·ε`,
        `γ ∈ {0, ${NOISE_AUG_STEP}, …, ${((NOISE_AUG_BUCKETS - 1) * NOISE_AUG_STEP).toFixed(1)}}`,
        'level → UNet as a class label',
        `bicubic ↑ ${c.sr.config.imageSize}×${c.sr.config.imageSize}`,
      ],
    },
    {
      title: `super-resolution ${c.base.config.imageSize}→${c.sr.config.imageSize}`,
      lines: unetLines(c.sr, 'image + text → sharper image'),
    },
  ];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** SVG of the cascade: text path on top, image path below, arrows between the stages. */
export function cascadeDiagramSvg(c: Cascade, opts: { title?: string } = {}): string {
  const st = cascadeStages(c);
  const W = 1200;
  const boxes: Box[] = [
    { x: 20, y: 60, w: 200, h: 90, ...st[0], fill: '#f4f4f4' },
    { x: 260, y: 50, w: 270, h: 110, ...st[1], fill: '#dbe9f7' },
    { x: 260, y: 230, w: 270, h: 170, ...st[2], fill: '#fde8cc' },
    { x: 600, y: 230, w: 230, h: 170, ...st[3], fill: '#eeeeee' },
    { x: 900, y: 230, w: 290, h: 170, ...st[4], fill: '#e3f4dd' },
  ];
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="470" viewBox="0 0 ${W} 470" font-family="sans-serif">`,
  );
  parts.push(
    '<defs><marker id="arr" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#444"/></marker></defs>',
  );
  parts.push(`<rect width="${W}" height="470" fill="white"/>`);
  parts.push(
    `<text x="20" y="28" font-size="17" font-weight="bold">${esc(opts.title ?? 'Imagen-style cascade (figure 20), drawn from the loaded models')}</text>`,
  );
  for (const b of boxes) {
    parts.push(`<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="8" fill="${b.fill}" stroke="#555"/>`);
    parts.push(`<text x="${b.x + 10}" y="${b.y + 20}" font-size="13" font-weight="bold">${esc(b.title)}</text>`);
    b.lines.forEach((l, i) =>
      parts.push(`<text x="${b.x + 10}" y="${b.y + 40 + 17 * i}" font-size="12">${esc(l)}</text>`),
    );
  }
  const arrow = (x1: number, y1: number, x2: number, y2: number, label = '', dash = false) => {
    parts.push(
      `<path d="M${x1},${y1} L${x2},${y2}" stroke="#444" stroke-width="1.6" fill="none" marker-end="url(#arr)"${dash ? ' stroke-dasharray="5,4"' : ''}/>`,
    );
    // Horizontal arrows: the label centred above; vertical ones: to the right.
    if (label && y1 === y2)
      parts.push(
        `<text x="${(x1 + x2) / 2}" y="${y1 - 6}" font-size="10" fill="#333" text-anchor="middle">${esc(label)}</text>`,
      );
    else if (label)
      parts.push(`<text x="${x1 + 6}" y="${(y1 + y2) / 2 + 4}" font-size="11" fill="#333">${esc(label)}</text>`);
  };
  const [cap, enc, base, aug, sr] = boxes;
  const bs = c.base.config.imageSize;
  const ss = c.sr.config.imageSize;
  arrow(cap.x + cap.w, cap.y + cap.h / 2, enc.x, cap.y + cap.h / 2, 'tokens');
  arrow(enc.x + enc.w / 2, enc.y + enc.h, base.x + base.w / 2, base.y, 'context');
  // The same context reaches the SR model: a line along the top, then down.
  parts.push(
    `<path d="M${enc.x + enc.w},${enc.y + enc.h / 2} L${sr.x + sr.w / 2},${enc.y + enc.h / 2} L${sr.x + sr.w / 2},${sr.y - 2}" stroke="#444" stroke-width="1.6" fill="none" marker-end="url(#arr)"/>`,
  );
  parts.push(
    `<text x="${enc.x + enc.w + 10}" y="${enc.y + enc.h / 2 - 6}" font-size="11">same frozen context (cross-attention)</text>`,
  );
  arrow(base.x + base.w, base.y + base.h / 2, aug.x, aug.y + aug.h / 2, `${bs}×${bs}×3`);
  arrow(aug.x + aug.w, aug.y + aug.h / 2, sr.x, sr.y + sr.h / 2, 'z, level');
  arrow(sr.x + sr.w / 2, sr.y + sr.h, sr.x + sr.w / 2, sr.y + sr.h + 40, `${ss}×${ss}×3 image`);
  arrow(base.x + base.w / 2, base.y + base.h + 45, base.x + base.w / 2, base.y + base.h + 2, '', true);
  parts.push(
    `<text x="${base.x + base.w / 2 + 8}" y="${base.y + base.h + 40}" font-size="11">x_T ~ N(0, I), ${bs}×${bs}×3</text>`,
  );
  parts.push(
    `<text x="20" y="455" font-size="11" fill="#555">Both UNets are trained with the ε loss and caption dropout (CFG); the encoder is pretrained on captions alone (masked words) and frozen.</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}

/** Plain-text outline of the same stages (logs, non-graphical front ends). */
export function formatCascade(c: Cascade): string {
  return cascadeStages(c)
    .map((s) => `${s.title}\n${s.lines.map((l) => `    ${l}`).join('\n')}`)
    .join('\n  ↓\n');
}

/** Shows the diagram in a notebook (SVG, with the outline as fallback); prints the outline elsewhere. */
export function showCascadeDiagram(c: Cascade, opts: { title?: string } = {}): void {
  if (inKernel()) sendDisplay({ 'image/svg+xml': cascadeDiagramSvg(c, opts), 'text/plain': formatCascade(c) });
  else console.log(formatCascade(c));
}
