// Times the data caches: loading Fashion-MNIST train+test from a valid cache in a fresh process
// (median of several runs; size and SHA-256 checks included), and building the caches from the
// npm packages into a temporary directory.
// Usage: npx tsx scripts/bench-data.ts [runs=5]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Child mode: one cold load, printed as JSON so the parent can collect it. */
function child(): void {
  const t0 = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { loadFashionMnist } = require('../datasets/fashion-mnist') as typeof import('../datasets/fashion-mnist');
  const t1 = performance.now();
  const train = loadFashionMnist('train');
  const test = loadFashionMnist('test');
  const t2 = performance.now();
  if (train.count !== 60000 || test.count !== 10000) throw new Error('unexpected counts');
  console.log(JSON.stringify({ importMs: t1 - t0, loadMs: t2 - t1 }));
}

function main(): void {
  const runs = Number(process.argv[2] ?? 5);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer, got ${process.argv[2]}`);
  const { buildCache } = require('../datasets/cached-loader') as typeof import('../datasets/cached-loader');
  const { FASHION_MNIST_SPEC } = require('../datasets/fashion-mnist') as typeof import('../datasets/fashion-mnist');
  const { MNIST_SPEC } = require('../datasets/mnist') as typeof import('../datasets/mnist');

  // Make sure the cache is valid first, so every timed child run only reads.
  const warm = spawnSync(process.execPath, [...process.execArgv, __filename, '--child'], { encoding: 'utf8' });
  if (warm.status !== 0) throw new Error(`child failed: ${warm.stderr.trim().split('\n').pop()}`);

  const imports: number[] = [];
  const loads: number[] = [];
  const walls: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const res = spawnSync(process.execPath, [...process.execArgv, __filename, '--child'], { encoding: 'utf8' });
    walls.push(performance.now() - t0);
    if (res.status !== 0) throw new Error(`child failed: ${res.stderr.trim().split('\n').pop()}`);
    const line = res.stdout.trim().split('\n').pop()!;
    const m = JSON.parse(line) as { importMs: number; loadMs: number };
    imports.push(m.importMs);
    loads.push(m.loadMs);
  }
  const fmt = (xs: number[]) =>
    `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
  console.log(`fashion-mnist train+test load from cache, fresh process, ${runs} runs: ${fmt(loads)}`);
  console.log(`  module import: ${fmt(imports)}; whole process incl. tsx start: ${fmt(walls)}`);

  const buildRuns = Math.min(3, runs);
  for (const spec of [FASHION_MNIST_SPEC, MNIST_SPEC]) {
    const times: number[] = [];
    for (let r = 0; r < buildRuns; r++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-data-'));
      try {
        const t0 = performance.now();
        buildCache(spec, { cacheDir: dir });
        times.push(performance.now() - t0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(`${spec.name} cache build from the npm package, ${buildRuns} runs: ${fmt(times)}`);
  }
}

try {
  if (process.argv.includes('--child')) child();
  else main();
} catch (e) {
  console.error(`bench-data: ${(e as Error).message}`);
  process.exit(1);
}
