// Figure 22 of the article (the unCLIP / DALL·E 2 architecture) drawn from the real objects: every
// label (tower sizes, embedding width, parameter counts, the prior's schedule, the decoder's context)
// is read off the loaded CLIP model, prior and decoder, so a different checkpoint draws a different
// figure. Top: the contrastive CLIP model (frozen after its own training); below the dashed line:
// the prior (text embedding -> image embedding) and the decoder (image embedding -> image).
import { countParams, ParamMap } from '../../core/params';
import { escapeXml } from '../display/svg_fallback';
import type { Clip } from '../../methods/clip/clip';
import type { UNet } from '../../core/unet/unet';
import type { DiffusionPrior } from '../../methods/dalle2/prior';

export interface UnclipStructure {
  embedDim: number;
  clipText: { layers: number; width: number; heads: number; vocab: number; contextLength: number; params: number };
  clipImage: { channels: number[]; hidden: number; imageSize: number; params: number };
  prior: { hidden: number; blocks: number; T: number; params: number };
  decoder: {
    imageSize: number;
    channels: number[];
    attention: string[];
    contextTokens: number;
    timeEmbedding: boolean;
    params: number;
  };
}

function paramsUnder(params: ParamMap, prefix: string): number {
  let n = 0;
  for (const [k, v] of params) if (k.startsWith(prefix)) n += v.size;
  return n;
}

export function unclipStructure(parts: { clip: Clip; prior: DiffusionPrior; decoder: UNet }): UnclipStructure {
  const { clip, prior, decoder } = parts;
  const c = clip.config;
  const d = decoder.config;
  return {
    embedDim: c.embedDim,
    clipText: {
      layers: c.text.layers,
      width: c.text.width,
      heads: c.text.heads,
      vocab: c.text.vocab.length,
      contextLength: c.text.contextLength,
      params: paramsUnder(clip.params, 'text.') + paramsUnder(clip.params, 'textProj.'),
    },
    clipImage: {
      channels: [...c.imageChannels],
      hidden: c.imageHidden,
      imageSize: c.imageSize,
      params: paramsUnder(clip.params, 'image.'),
    },
    prior: {
      hidden: prior.config.hidden,
      blocks: prior.config.blocks,
      T: prior.config.T,
      params: countParams(prior.params),
    },
    decoder: {
      imageSize: d.imageSize,
      channels: d.channelMults.map((m) => m * d.baseChannels),
      attention: [...d.attentionResolutions.map((r) => `${r}×${r}`), ...(d.midAttention ? ['the middle'] : [])],
      contextTokens: 1,
      timeEmbedding: d.vectorDim !== undefined,
      params: countParams(decoder.params),
    },
  };
}

const k = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);

function box(x: number, y: number, w: number, h: number, fill: string, lines: string[], bold = false): string {
  const text = lines
    .map(
      (l, i) =>
        `<text x="${x + w / 2}" y="${y + h / 2 + (i - (lines.length - 1) / 2) * 14 + 4}" text-anchor="middle" font-size="${i === 0 ? 12 : 10}"${i === 0 && bold ? ' font-weight="bold"' : ''}>${escapeXml(l)}</text>`,
    )
    .join('');
  return `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="6" fill="${fill}" stroke="#333"/>${text}`;
}

function arrow(x1: number, y1: number, x2: number, y2: number, dashed = false): string {
  return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#333" stroke-width="1.5" marker-end="url(#ah)"${dashed ? ' stroke-dasharray="5 4"' : ''}/>`;
}

/** Sequence of embedding cells, the way the DALL·E 2 paper draws an embedding vector. */
function vector(x: number, y: number, fill: string, label: string): string {
  const cells = Array.from(
    { length: 8 },
    (_, i) => `<rect x="${x + i * 12}" y="${y}" width="12" height="16" fill="${fill}" stroke="#333"/>`,
  ).join('');
  return cells + `<text x="${x + 48}" y="${y + 30}" text-anchor="middle" font-size="10">${escapeXml(label)}</text>`;
}

export function unclipDiagramSvg(s: UnclipStructure, opts: { title?: string } = {}): string {
  const E = s.embedDim;
  const W = 980;
  const H = 400;
  const p: string[] = [];
  p.push(
    `<defs><marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>`,
  );
  p.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  p.push(
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(opts.title ?? 'unCLIP (DALL·E 2) as built in this lesson')}</text>`,
  );
  // CLIP (top).
  p.push(
    `<text x="14" y="52" font-size="12" font-weight="bold" fill="#555">CLIP-like model (contrastive, then frozen)</text>`,
  );
  p.push(box(14, 64, 150, 40, '#fff', ['caption', '"a small red circle …"']));
  p.push(
    box(
      190,
      64,
      210,
      40,
      '#cfe3ff',
      [
        `text transformer ${s.clipText.layers}×${s.clipText.width}`,
        `${s.clipText.vocab} words, ${s.clipText.contextLength} tokens, ${k(s.clipText.params)} params`,
      ],
      true,
    ),
  );
  p.push(arrow(164, 84, 190, 84));
  p.push(vector(430, 76, '#9cc3ff', `text embedding (${E})`));
  p.push(arrow(400, 84, 428, 84));
  p.push(
    box(14, 134, 150, 40, '#fff', [`image ${s.clipImage.imageSize}×${s.clipImage.imageSize}×3`, '+ x, y channels']),
  );
  p.push(
    box(
      190,
      134,
      210,
      40,
      '#ffe0b8',
      [`CNN ${s.clipImage.channels.join('-')} → MLP ${s.clipImage.hidden}`, `${k(s.clipImage.params)} params`],
      true,
    ),
  );
  p.push(arrow(164, 154, 190, 154));
  p.push(vector(430, 146, '#ffc27a', `image embedding (${E})`));
  p.push(arrow(400, 154, 428, 154));
  p.push(
    `<text x="560" y="120" font-size="11" fill="#444">cosine similarity, symmetric InfoNCE:</text><text x="560" y="134" font-size="11" fill="#444">matching (caption, image) pairs pulled together</text>`,
  );
  p.push(`<line x1="10" y1="196" x2="${W - 10}" y2="196" stroke="#888" stroke-dasharray="6 5"/>`);
  // Prior and decoder (below).
  p.push(
    `<text x="14" y="222" font-size="12" font-weight="bold" fill="#555">generation: prior + decoder (two diffusion models)</text>`,
  );
  p.push(vector(20, 260, '#9cc3ff', `text embedding (${E})`));
  p.push(
    box(
      150,
      244,
      220,
      50,
      '#d9f2d0',
      [
        'prior (diffusion over embeddings)',
        `MLP ${s.prior.blocks}×${s.prior.hidden}, cosine T=${s.prior.T}, predicts x0`,
        `${k(s.prior.params)} params`,
      ],
      true,
    ),
  );
  p.push(arrow(118, 268, 150, 268));
  p.push(vector(400, 260, '#ffc27a', `image embedding (${E})`));
  p.push(arrow(370, 268, 398, 268));
  p.push(
    box(
      530,
      236,
      250,
      66,
      '#f3d9f7',
      [
        'decoder (diffusion UNet)',
        `${s.decoder.imageSize}×${s.decoder.imageSize}, ${s.decoder.channels.join('/')} ch`,
        s.decoder.timeEmbedding
          ? `embedding: ${s.decoder.contextTokens} token + time embedding`
          : `cross-attention at ${s.decoder.attention.join(' and ')} to ${s.decoder.contextTokens} token`,
        `${k(s.decoder.params)} params, CFG on the embedding`,
      ],
      true,
    ),
  );
  p.push(arrow(498, 268, 530, 268));
  p.push(box(810, 248, 150, 40, '#fff', [`image ${s.decoder.imageSize}×${s.decoder.imageSize}×3`, 'generated']));
  p.push(arrow(780, 268, 810, 268));
  // Where the pieces come from.
  p.push(arrow(478, 100, 70, 256, true));
  p.push(arrow(478, 170, 448, 256, true));
  p.push(
    `<text x="14" y="340" font-size="11" fill="#444">text → image: caption → CLIP text embedding → prior samples an image embedding → decoder draws it.</text>`,
  );
  p.push(
    `<text x="14" y="356" font-size="11" fill="#444">variations / mixing (figure 24): a real image's CLIP embedding (or a slerp of two) goes straight to the decoder.</text>`,
  );
  p.push(
    `<text x="14" y="372" font-size="11" fill="#444">dashed arrows: during training, the prior's targets and the decoder's condition are the frozen CLIP's embeddings of real pairs.</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${p.join('')}</svg>`;
}

export function formatUnclipStructure(s: UnclipStructure): string {
  return [
    `CLIP text tower: ${s.clipText.layers} layers x ${s.clipText.width}, ${s.clipText.params.toLocaleString('en')} params -> ${s.embedDim}-dim embedding`,
    `CLIP image tower: CNN ${s.clipImage.channels.join('-')} + MLP ${s.clipImage.hidden}, ${s.clipImage.params.toLocaleString('en')} params -> ${s.embedDim}-dim embedding`,
    `prior: MLP ${s.prior.blocks} x ${s.prior.hidden}, T=${s.prior.T}, x0 prediction, ${s.prior.params.toLocaleString('en')} params`,
    `decoder: UNet ${s.decoder.channels.join('/')} ch, cross-attention to ${s.decoder.contextTokens} embedding token${s.decoder.timeEmbedding ? ' and the embedding added to the time embedding' : ''}, ${s.decoder.params.toLocaleString('en')} params`,
  ].join('\n');
}
