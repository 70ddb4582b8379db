// `npm run train -- <lesson>` reaches every lesson's own training script (scripts/train_routes.ts):
// the routes name scripts and tasks that exist, and a bad task or flag is one line from the right script.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { routeArgs, TRAIN_ROUTES } from '../scripts/train_routes';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

describe('train routes', () => {
  it('every route names a script that exists and handles its tasks', () => {
    for (const [lesson, r] of Object.entries(TRAIN_ROUTES)) {
      const file = path.join(ROOT, 'scripts', r.script);
      assert.ok(fs.existsSync(file), `lesson ${lesson}: ${r.script} missing`);
      const src = fs.readFileSync(file, 'utf8');
      for (const t of r.tasks ?? [])
        assert.ok(src.includes(`'${t}'`), `lesson ${lesson}: ${r.script} has no task '${t}'`);
    }
  });

  it('passes the flags on, with the task or lesson the script expects first', () => {
    assert.deepEqual(routeArgs('16', ['--steps', '5']), { script: 'train-audio.ts', args: ['--steps', '5'] });
    assert.deepEqual(routeArgs('10', ['--fresh']), { script: 'train-text.ts', args: ['10', '--fresh'] });
    assert.deepEqual(routeArgs('12', ['prior', '--steps', '5']), {
      script: 'train-dalle2.ts',
      args: ['prior', '--steps', '5'],
    });
    assert.match(routeArgs('12', []) as string, /lesson 12 trains 'clip' or 'prior' or 'decoder'/);
    // lesson 14's script also trains 13's models: the route keeps each lesson to its own tasks.
    assert.match(routeArgs('14', ['ae']) as string, /lesson 14 trains 'gligen'/);
  });

  it('npm run train refuses a bad task or flag of a routed lesson in one line, before training', () => {
    const cases: [string[], RegExp][] = [
      [['12'], /train: lesson 12 trains 'clip' or 'prior' or 'decoder'/],
      [['08', 'inpaint'], /train: lesson 08 trains 'sr3' or 'sr-regression'/],
      [['08', 'sr3', '--seed', '-1'], /--seed must be in \[0, 2147483647\]/],
      [['16', '--steps', '1e99'], /train-audio: --steps needs an integer/],
      [['15'], /train: no training recipe for lesson '15' \(have: 01, 05, 06, 07, 08/],
    ];
    for (const [args, expected] of cases) {
      const r = spawnSync(TSX, [path.join(ROOT, 'scripts', 'train.ts'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, DIFFUSION_BACKEND: 'cpu' },
        timeout: 60_000,
      });
      assert.notEqual(r.status, 0, `train ${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, expected, `train ${args.join(' ')}`);
      assert.doesNotMatch(r.stdout + r.stderr, /parameters,/i, 'got as far as training');
    }
  });
});
