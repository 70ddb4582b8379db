// Starting the decoder from lesson 10's GLIDE UNet. DALL·E 2's decoder is itself a modified GLIDE
// model, and here the two UNets share every layer except GLIDE's text encoder (and the projection of
// its pooled vector into the time embedding): the cross-attention layers already read a 64-wide
// context, only now it is one CLIP image-embedding token instead of caption tokens. Copying the
// shared weights gives the decoder a network that can already draw shapes; fine-tuning then only has
// to teach it to read the new context, which is far cheaper than training from scratch on a CPU.
import { Denoiser } from '../../core/unet/denoiser';
import { loadDenoiserCheckpoint } from '../text/checkpoint';

/** Copies every parameter of `file`'s UNet (EMA weights when present) whose name and shape `decoder` shares; returns the counts. */
export function initDecoderFrom(
  decoder: Denoiser,
  file: string,
): { copied: number; skipped: string[]; fresh: string[] } {
  // A text UNet (lesson 10's) or a core one: the text encoder's 'text.*' and 'textToTime.*' are skipped by name.
  const src = loadDenoiserCheckpoint(file);
  try {
    let copied = 0;
    const skipped: string[] = [];
    for (const [name, v] of src.params) {
      const d = decoder.params.get(name);
      if (d && d.shape.join() === v.shape.join()) {
        d.assign(v);
        copied++;
      } else skipped.push(name);
    }
    const fresh = [...decoder.params.keys()].filter(
      (n) => !src.params.has(n) || src.params.get(n)!.shape.join() !== decoder.params.get(n)!.shape.join(),
    );
    if (copied === 0) throw new Error(`initDecoderFrom: ${file} shares no parameter with the decoder`);
    return { copied, skipped, fresh };
  } finally {
    src.dispose();
  }
}
