// One entry point for every data set by name, so notebooks and scripts can take the name as a
// parameter. Image sets come back as ImageSet; 2-D toys as PointSet.
import { Rng } from '../lib/core/random';
import { LoadOptions } from './cached-loader';
import { FASHION_MNIST_SPEC, loadFashionMnist } from './fashion-mnist';
import { ImageSet } from './imageset';
import { MNIST_SPEC, loadMnist } from './mnist';
import { LoadShapesOptions, SHAPES_SPLITS, ShapesSplit, loadShapes } from './shapes';
import { TOY_NAMES, sampleToy } from './toy2d';

/** n points of a 2-D toy distribution, [x0, y0, x1, y1, ...]. */
export interface PointSet {
  kind: 'points';
  name: string;
  split: string;
  points: Float32Array;
  count: number;
  dim: 2;
}

export const IMAGE_DATASETS = ['fashion-mnist', 'mnist', 'shapes'] as const;
export const DATASET_NAMES: readonly string[] = [...IMAGE_DATASETS, ...TOY_NAMES];

/** Toy splits are fixed seeds, so train and test are independent draws. */
export const TOY_SPLITS: Record<string, { seed: number; count: number }> = {
  train: { seed: 1, count: 10000 },
  test: { seed: 2, count: 2000 },
};

export function datasetSplits(name: string): string[] {
  if (name === 'fashion-mnist') return Object.keys(FASHION_MNIST_SPEC.splits);
  if (name === 'mnist') return Object.keys(MNIST_SPEC.splits);
  if (name === 'shapes') return Object.keys(SHAPES_SPLITS);
  if ((TOY_NAMES as readonly string[]).includes(name)) return Object.keys(TOY_SPLITS);
  throw new Error(`unknown data set '${name}': use one of ${DATASET_NAMES.join(', ')}`);
}

export type DatasetOptions = LoadOptions & LoadShapesOptions;

/** Loads any data set by name; `count` and `seed` apply to the generated ones (shapes, toys). */
export function loadDataset(name: string, split: string, opts: DatasetOptions = {}): ImageSet | PointSet {
  const splits = datasetSplits(name);
  if (!splits.includes(split)) throw new Error(`unknown split '${split}' for ${name}: use one of ${splits.join(', ')}`);
  if (name === 'fashion-mnist') return loadFashionMnist(split as 'train' | 'test', opts);
  if (name === 'mnist') return loadMnist(split as 'all', opts);
  if (name === 'shapes') return loadShapes(split as ShapesSplit, opts);
  const def = TOY_SPLITS[split];
  const count = opts.count ?? def.count;
  return { kind: 'points', name, split, points: sampleToy(name, count, new Rng(opts.seed ?? def.seed)), count, dim: 2 };
}

/** loadDataset for names known to be image sets (throws for toys). */
export function loadImageSet(name: string, split: string, opts: DatasetOptions = {}): ImageSet {
  const set = loadDataset(name, split, opts);
  if (set.kind !== 'images')
    throw new Error(`'${name}' is a 2-D point data set, not images: use loadDataset or sampleToy`);
  return set;
}
