// Samples out of the course, for anyone's own metrics (`npm run sample`): one .npy of float32 in
// [-1, 1] (N×H×W for one channel, as Fashion-MNIST arrays usually are; N×H×W×C otherwise) or one
// PNG per image in a folder; class labels beside them when the model was conditional.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../core/checkpoint/atomic_write';
import { fileKind } from '../core/checkpoint/read_file';
import { rawImageGridPng } from '../course/display/image_grid';
import { writeNpy } from './npy';

export type SampleTarget = { kind: 'npy'; file: string } | { kind: 'dir'; dir: string };

/**
 * Where `out` sends the samples: a path ending in .npy is one file, anything else a folder of PNGs.
 * Checked before any sampling, so a bad path costs nothing: the .npy's folder must exist and the
 * path must not be a folder; the PNG folder's parent must exist and the path must not be a file.
 */
export function sampleTarget(out: string): SampleTarget {
  if (out.trim() === '') throw new Error('--out needs a file ending in .npy or a folder for PNGs');
  const abs = path.resolve(out);
  const parent = path.dirname(abs);
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory())
    throw new Error(`--out ${out}: the folder ${parent} does not exist`);
  const st = fs.existsSync(abs) ? fs.statSync(abs) : null;
  if (out.toLowerCase().endsWith('.npy')) {
    if (st && !st.isFile()) throw new Error(`--out ${out}: is ${fileKind(st)}, not a file to write`);
    return { kind: 'npy', file: abs };
  }
  if (st && !st.isDirectory())
    throw new Error(
      `--out ${out}: is ${st.isFile() ? 'a file' : fileKind(st)}; give a folder for PNGs or a name ending in .npy`,
    );
  return { kind: 'dir', dir: abs };
}

/** 'x.npy' -> 'x.labels.npy'. */
export function labelsFileOf(npyFile: string): string {
  return npyFile.replace(/\.npy$/i, '.labels.npy');
}

/**
 * Writes images (NHWC float32, clipped to [-1, 1] here) and, when given, their labels; returns the
 * paths written. PNGs are named 000000.png, … in sample order; labels.json holds [{file, label, class}].
 */
export function writeSamples(
  target: SampleTarget,
  data: Float32Array,
  shape: [number, number, number, number],
  labels: number[] | null,
  classNames: readonly string[] = [],
): string[] {
  const [n, h, w, c] = shape;
  if (data.length !== n * h * w * c) throw new Error(`writeSamples: ${data.length} values for shape [${shape}]`);
  if (labels && labels.length !== n) throw new Error(`writeSamples: ${labels.length} labels for ${n} images`);
  const clipped = data.map((v) => Math.min(1, Math.max(-1, v)));
  const written: string[] = [];
  if (target.kind === 'npy') {
    writeNpy(target.file, clipped, c === 1 ? [n, h, w] : [n, h, w, c]);
    written.push(target.file);
    if (labels) {
      const lf = labelsFileOf(target.file);
      writeNpy(lf, Uint8Array.from(labels), [n]);
      written.push(lf);
    }
    return written;
  }
  fs.mkdirSync(target.dir, { recursive: true });
  const per = h * w * c;
  const digits = Math.max(6, String(n - 1).length);
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${String(i).padStart(digits, '0')}.png`;
    const png = rawImageGridPng(
      { data: clipped.subarray(i * per, (i + 1) * per), shape: [1, h, w, c] },
      { cols: 1, padding: 0, scale: 1, range: [-1, 1] },
    );
    writeFileAtomic(path.join(target.dir, name), png);
    names.push(name);
  }
  written.push(...names.map((f) => path.join(target.dir, f)));
  if (labels) {
    const lf = path.join(target.dir, 'labels.json');
    const rows = labels.map((label, i) => ({ file: names[i], label, class: classNames[label] ?? String(label) }));
    writeFileAtomic(lf, JSON.stringify(rows, null, 1) + '\n');
    written.push(lf);
  }
  return written;
}
