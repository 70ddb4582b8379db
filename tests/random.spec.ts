// The seeded generator and lesson mode. References: the moments of N(0, 1) and U[0, 1) (sample mean and
// variance within 0.01 over 2*10^5 draws, uniform buckets within 1 %), a permutation's defining property
// (every index once), and reproducibility (same seed, same numbers; other seed, other numbers).
import { strict as assert } from 'assert';
import { Rng, setSeed, globalRng } from '../lib/core/random';
import { lessonMode, byMode } from '../lib/course/mode';

describe('random', () => {
  it('same seed gives the same numbers, different seeds differ', () => {
    const a = new Rng(42).normalArray(1000);
    const b = new Rng(42).normalArray(1000);
    const c = new Rng(43).normalArray(1000);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('normals have mean 0 and variance 1, uniforms cover [0,1)', () => {
    const n = 200000;
    const x = new Rng(1).normalArray(n);
    let m = 0,
      v = 0;
    for (const xi of x) m += xi / n;
    for (const xi of x) v += (xi - m) ** 2 / n;
    assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
    assert.ok(Math.abs(v - 1) < 0.01, `variance ${v}`);
    const u = new Rng(2).uniformArray(n);
    assert.ok(u.every((ui) => ui >= 0 && ui < 1));
    const buckets = new Array(10).fill(0);
    for (const ui of u) buckets[Math.floor(ui * 10)]++;
    for (const b of buckets) assert.ok(Math.abs(b - n / 10) < n / 100, `bucket ${b}`);
  });

  it('permutation is a permutation and depends on the seed', () => {
    const p = new Rng(5).permutation(100);
    assert.deepEqual(
      [...p].sort((a, b) => a - b),
      [...Array(100).keys()],
    );
    assert.notDeepEqual(p, new Rng(6).permutation(100));
  });

  it('forks are independent but reproducible', () => {
    const r1 = new Rng(9),
      r2 = new Rng(9);
    assert.deepEqual(r1.fork().uniformArray(10), r2.fork().uniformArray(10));
    assert.notDeepEqual(new Rng(9).fork().uniformArray(10), new Rng(9).uniformArray(10));
  });

  it('setSeed resets the shared generator', () => {
    setSeed(7);
    const a = globalRng().uniformArray(5);
    setSeed(7);
    assert.deepEqual(globalRng().uniformArray(5), a);
  });

  it('bad input is a clear error', () => {
    assert.throws(() => new Rng(NaN), /Rng: seed must be a finite number, got NaN/);
    assert.throws(() => new Rng(1).int(0), /positive integer/);
  });
});

describe('lesson mode', () => {
  it('defaults to standard and reads LESSON_MODE', () => {
    assert.equal(lessonMode({}), 'standard');
    assert.equal(lessonMode({ LESSON_MODE: 'quick' }), 'quick');
    assert.equal(byMode({ quick: 1, standard: 2, full: 3 }, 'full'), 3);
  });
  it('an unknown mode is a clear error', () => {
    assert.throws(() => lessonMode({ LESSON_MODE: 'fast' }), /Unknown LESSON_MODE 'fast'.*quick, standard, full/);
  });
});
