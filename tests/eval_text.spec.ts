// `npm run eval -- 10..15` on the shipped checkpoints with a handful of captions and two sampler
// steps: what is checked is that each entry loads its models, samples, scores and ends with its JSON
// line; the numbers themselves come from the full runs recorded in the manifests. The default
// backend (the native one where it is built) keeps the 500-image reconstruction check quick.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

function evalRun(args: string[]) {
  return spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'scripts', 'eval.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 280_000,
  });
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

const share = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;

describe('npm run eval -- 10 | 11 | 12 | 13 | 14 | 15 (shipped checkpoints, tiny n)', function () {
  this.timeout(300_000);

  const cases: [string, string[], (r: Record<string, unknown>) => void][] = [
    [
      '10',
      ['--guidance', '3'],
      (r) => {
        const m = (r.methods as { single: { all: number }; network_evals_per_image: number }[])[0];
        assert.ok(share(m.single.all));
        assert.strictEqual(
          m.network_evals_per_image,
          4,
          'two guided DDIM steps cost four network evaluations per image',
        );
      },
    ],
    [
      '11',
      ['--guidance', '3', '--batch', '4'],
      (r) => {
        assert.strictEqual(r.guidance, 3);
        assert.strictEqual((r.methods as unknown[]).length, 2, 'the cascade and its base stage alone');
      },
    ],
    [
      '12',
      [],
      (r) => {
        assert.ok(share(r.attribute_accuracy_single));
        assert.ok(typeof r.clip_score === 'number');
      },
    ],
    [
      '13',
      [],
      (r) => {
        assert.ok(typeof r.reconstruction_psnr_db === 'number' && (r.reconstruction_psnr_db as number) > 10);
        assert.ok(share((r.layout as { iou50_share: number }).iou50_share));
      },
    ],
    [
      '14',
      [],
      (r) => {
        assert.ok(share(r.iou50_share_with_grounding));
        assert.ok(share(r.iou50_share_without_grounding));
      },
    ],
    [
      '15',
      [
        '--train-count',
        '600',
        '--epochs',
        '1',
        '--real-boxes',
        '4',
        '--synthetic-boxes',
        '4',
        '--test-boxes',
        '8',
        '--detector-steps',
        '5',
      ],
      (r) => {
        const pct = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 100;
        const recall = r.rare_recall as Record<string, number>;
        assert.deepStrictEqual(Object.keys(recall), ['a', 'b', 'c', 'd']);
        assert.ok(Object.values(recall).every(pct) && Object.values(r.accuracy as object).every(pct));
        const d = r.detector as Record<string, number>;
        assert.ok(pct(d.map50_real_only) && pct(d.map50_real_plus_synthetic) && pct(d.synthetic_label_agreement));
      },
    ],
  ];
  for (const [lesson, extra, check] of cases) {
    it(`lesson ${lesson} ends with its JSON record`, () => {
      const r = evalRun([lesson, '--n', '2', '--steps', '2', ...extra]);
      assert.strictEqual(r.status, 0, r.stderr);
      const rec = lastJson(r.stdout);
      assert.strictEqual(rec.lesson, lesson);
      check(rec);
    });
  }

  it('bad flags are usage errors (exit 2) naming the flag', () => {
    const r = evalRun(['11', '--aug-bucket', '9']);
    assert.strictEqual(r.status, 2);
    assert.match(r.stderr, /--aug-bucket must be below 7/);
    const s = evalRun(['14', '--guidance', '1,3']);
    assert.strictEqual(s.status, 2);
    assert.match(s.stderr, /--guidance takes one scale/);
    const t = evalRun(['15', '--rare-class', '10']);
    assert.strictEqual(t.status, 2);
    assert.match(t.stderr, /--rare-class must be 0..9, got 10/);
  });
});
