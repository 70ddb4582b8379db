// `npm run eval -- 17` end to end on a tiny untrained video model: one JSON line whose real
// clips are all read right by the detector (its ceiling) and whose untrained samples do not move; a
// missing checkpoint names its command; bad flags are usage errors.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { saveUNetWeights } from '../lib/core/checkpoint/unet_checkpoint';
import { shapesTokenizer } from '../lib/methods/text/shapes_text';
import { TextUNet } from '../lib/methods/text/text_unet';
import { saveVideoModel, videoFromImageModel } from '../lib/methods/video/index';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function runEval(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TSX, [path.join(ROOT, 'scripts', 'eval.ts'), '17', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600_000, // the default backend: the pure-JS one takes minutes for 112 frames of 32x32
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run eval -- 17', function () {
  this.timeout(900_000);
  let dir = '';
  let file = '';

  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'video-eval-'));
    const tok = shapesTokenizer();
    const image = new TextUNet(
      {
        imageSize: 32,
        inChannels: 3,
        outChannels: 3,
        baseChannels: 8,
        channelMults: [1, 2],
        attentionResolutions: [16],
        attentionHeads: 2,
        groups: 4,
        positionChannels: true,
        text: { vocab: [...tok.vocab], contextLength: tok.contextLength, width: 8, layers: 1, heads: 2 },
      },
      { seed: 4 },
    );
    const imageFile = path.join(dir, 'image.safetensors');
    await saveUNetWeights(imageFile, image);
    image.dispose();
    const video = videoFromImageModel(imageFile, { maxFrames: 8, seed: 1 });
    file = path.join(dir, 'video.safetensors');
    await saveVideoModel(file, video);
    video.dispose();
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ends with one JSON line: the real clips at the ceiling, an untrained model far below the goal', () => {
    const r = runEval(['--checkpoint', file, '--n', '7', '--scales', '0,2', '--steps', '1', '--batch', '7']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const rec = JSON.parse(lines[lines.length - 1]) as {
      lesson: string;
      n: number;
      real: Record<string, number>;
      scales: { scale: number; motion: number; consistency: number; by_motion: Record<string, number | null> }[];
      goal_reached: boolean;
    };
    assert.equal(rec.lesson, '17');
    assert.equal(rec.n, 7);
    // The detector reads every real clip right: the numbers below are the model's, not the detector's.
    assert.deepEqual(rec.real, { motion: 1, object: 1, colour: 1, all: 1, consistency: 1 });
    assert.deepEqual(
      rec.scales.map((s) => s.scale),
      [0, 2],
    );
    for (const s of rec.scales) {
      assert.ok(s.motion >= 0 && s.motion <= 1 && s.consistency >= 0 && s.consistency <= 1, JSON.stringify(s));
      assert.equal(s.motion, 0, 'an untrained model moves nothing');
    }
    assert.equal(rec.goal_reached, false);
    assert.match(r.stdout, /^all\s+7\s+100\.0 %/m); // the per-motion table, real column first
  });

  it('a missing checkpoint names the command that makes it; bad flags are usage errors', () => {
    const missing = runEval(['--checkpoint', path.join(dir, 'nope.safetensors'), '--n', '2']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.safetensors not found: run npm run train -- 17/);
    assert.equal(runEval(['--n', '0']).status, 2);
    assert.equal(runEval(['--scales', 'x']).status, 2);
    assert.equal(runEval(['--frames', '8']).status, 2);
  });
});
