// Builds or verifies the binary data caches (Fashion-MNIST, MNIST). Idempotent: when every cache
// file is present and passes its size and SHA-256 checks it only reads them. One line per data set.
// Usage: npx tsx scripts/build-data-cache.ts [--force]   (cache dir: DIFFUSION_CACHE_DIR or .cache/datasets)
import * as path from 'path';
import { cacheDir } from '../datasets/cache';
import { CachedImageSpec, buildCache, cacheFile, checkCache } from '../datasets/cached-loader';
import { FASHION_MNIST_SPEC } from '../datasets/fashion-mnist';
import { MNIST_SPEC } from '../datasets/mnist';

const SPECS: CachedImageSpec[] = [FASHION_MNIST_SPEC, MNIST_SPEC];

function main(): void {
  const force = process.argv.includes('--force');
  const unknown = process.argv.slice(2).filter((a) => a !== '--force');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]}: the only option is --force`);
  for (const spec of SPECS) {
    const t0 = Date.now();
    const problems: string[] = [];
    for (const split of Object.keys(spec.splits)) {
      const state = checkCache(spec, split);
      if (state === 'missing') problems.push(`${split} missing`);
      else if (state !== 'valid') problems.push(`${split} ${state.invalid}`);
    }
    const counts = Object.entries(spec.splits)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ');
    if (problems.length === 0 && !force) {
      console.log(
        `${spec.name}: cache valid (${counts}) in ${path.dirname(cacheFile(spec, 'x'))}, checked in ${Date.now() - t0} ms`,
      );
      continue;
    }
    buildCache(spec);
    const why = force ? 'forced' : problems.join('; ');
    console.log(
      `${spec.name}: cache built from ${spec.pkg().id} (${why}) -> ${cacheDir()}, ${counts}, in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
}

try {
  main();
} catch (e) {
  console.error(`build-data-cache: ${(e as Error).message}`);
  process.exit(1);
}
