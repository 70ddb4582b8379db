// Lesson 17's data and measurement: the seeded clips of one moving shape (datasets/video_shapes.ts) and the
// per-frame motion score (lib/eval/video_motion.ts). References: each frame's pixels checked against the
// label's cell here, pixel by pixel; the measure on real clips (must match every caption), on the same
// clips with their frames shuffled, frozen or reversed (must not), and on 16-px clips.
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '../lib/core/tfjs_setup';
import { COLOUR_NAMES, SHAPE_COLOURS, SHAPE_KINDS } from '../datasets/shapes';
import {
  VIDEO_MOTIONS,
  VideoLabel,
  VideoMotion,
  generateVideoClip,
  loadVideoShapes,
  parseVideoCaption,
  planVideoClip,
  renderVideoClip,
  videoCaption,
  videoClipsTensor,
} from '../datasets/video_shapes';
import { measureClip, videoMotionScore } from '../lib/eval/video_motion';
import { toSigned } from '../lib/eval/shapes/perturb';

const PER = 32 * 32 * 3;

/** The clip with its frames in a new order (order[k] = the source frame of frame k). */
function reorder(clip: Uint8Array, order: number[], per = PER): Uint8Array {
  const out = new Uint8Array(clip.length);
  order.forEach((src, k) => out.set(clip.subarray(src * per, (src + 1) * per), k * per));
  return out;
}

const OPPOSITE: Record<VideoMotion, VideoMotion> = {
  left: 'right',
  right: 'left',
  up: 'down',
  down: 'up',
  grows: 'shrinks',
  shrinks: 'grows',
  recolour: 'recolour',
};

describe('video shapes (lesson 17)', function () {
  this.timeout(120_000);
  before(async () => {
    await tf.setBackend('cpu');
  });

  describe('data set', () => {
    it('clips depend only on (seed, index); the loader holds the same clips', () => {
      const a = generateVideoClip(7, 42);
      assert.deepStrictEqual(generateVideoClip(7, 42), a);
      assert.notDeepStrictEqual(generateVideoClip(7, 43).frames, a.frames);
      assert.notDeepStrictEqual(generateVideoClip(8, 42).frames, a.frames);
      assert.deepStrictEqual(planVideoClip(7, 42), a.label);
      const set = loadVideoShapes('train', { count: 50, seed: 7 });
      assert.equal(set.clips.length, 50 * 8 * PER);
      assert.ok(Buffer.from(set.clips.subarray(42 * 8 * PER, 43 * 8 * PER)).equals(Buffer.from(a.frames)));
      assert.equal(set.captions[42], a.caption);
      assert.deepStrictEqual(set.labels[42], a.label);
      // Default splits: different seeds, so different clips.
      const [train, test] = [loadVideoShapes('train', { count: 3 }), loadVideoShapes('test', { count: 3 })];
      assert.notDeepStrictEqual(train.clips, test.clips);
    });

    it("every frame shows exactly the label's object, and the label does what its caption says", () => {
      const seen = new Set<string>();
      for (let i = 0; i < 300; i++) {
        const clip = generateVideoClip(3, i);
        const { label, caption, frames } = clip;
        seen.add(label.motion);
        assert.equal(caption, videoCaption(label));
        assert.deepStrictEqual(parseVideoCaption(caption), {
          shape: label.shape,
          colour: label.colour,
          motion: label.motion,
          toColour: label.toColour,
        });
        assert.equal(label.path.length, 8);
        label.path.forEach((o, f) => {
          // Non-black pixels: all inside the cell, all of the frame's colour, touching the cell's four sides.
          let [x0, y0, x1, y1] = [32, 32, -1, -1];
          for (let y = 0; y < 32; y++) {
            for (let x = 0; x < 32; x++) {
              const p = f * PER + (y * 32 + x) * 3;
              const rgb = [frames[p], frames[p + 1], frames[p + 2]];
              if (rgb.every((v) => v === 0)) continue;
              assert.deepStrictEqual(rgb, [...SHAPE_COLOURS[o.colour]], `clip ${i} frame ${f} (${caption})`);
              [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
            }
          }
          assert.deepStrictEqual([x0, y0, x1 + 1, y1 + 1], [o.x, o.y, o.x + o.side, o.y + o.side], `clip ${i} f ${f}`);
        });
        const p = label.path;
        const steps = p.slice(1).map((o, k) => ({
          dx: o.x - p[k].x,
          dy: o.y - p[k].y,
          ds: o.side - p[k].side,
          recoloured: o.colour !== p[k].colour,
        }));
        const dir = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] } as Record<string, number[]>;
        if (label.motion in dir) {
          const [ux, uy] = dir[label.motion];
          const speed = Math.abs(steps[0].dx + steps[0].dy);
          assert.ok(speed === 1 || speed === 2);
          for (const s of steps)
            assert.deepStrictEqual([s.dx, s.dy, s.ds, s.recoloured], [ux * speed, uy * speed, 0, false]);
          assert.ok([8, 14].includes(p[0].side));
        } else if (label.motion === 'grows' || label.motion === 'shrinks') {
          const sides = p.map((o) => o.side);
          assert.deepStrictEqual(
            sides,
            label.motion === 'grows' ? [8, 9, 10, 11, 11, 12, 13, 14] : [14, 13, 12, 11, 11, 10, 9, 8],
          );
          // Centred on one point to within half a pixel.
          const cx = p.map((o) => o.x + o.side / 2);
          assert.ok(Math.max(...cx) - Math.min(...cx) <= 0.5);
          assert.ok(steps.every((s) => !s.recoloured));
        } else {
          assert.equal(label.motion, 'recolour');
          assert.ok(label.toColour !== null && label.toColour !== label.colour);
          assert.deepStrictEqual(
            p.map((o) => o.colour),
            [0, 1, 2, 3, 4, 5, 6, 7].map((f) => (f < 4 ? label.colour : label.toColour)),
          );
          assert.ok(steps.every((s) => s.dx === 0 && s.dy === 0 && s.ds === 0));
        }
      }
      assert.deepStrictEqual([...seen].sort(), [...VIDEO_MOTIONS].sort());
    });

    it('frame count, frame size and motions are parameters; clips become [-1, 1] tensors', () => {
      for (const frames of [2, 16]) {
        for (let i = 0; i < 60; i++) {
          const c = generateVideoClip(5, i, { frames });
          assert.equal(c.label.path.length, frames);
          assert.equal(c.frames.length, frames * PER);
        }
      }
      const only = loadVideoShapes('test', { count: 20, motions: ['grows', 'up'] });
      assert.ok(only.labels.every((l) => l.motion === 'grows' || l.motion === 'up'));
      // 16 px: the floor of each 2x2 block's mean of the 32-px frame.
      const big = generateVideoClip(4, 9);
      const small = generateVideoClip(4, 9, { size: 16 });
      assert.deepStrictEqual(small.label, big.label);
      assert.equal(small.frames.length, 8 * 16 * 16 * 3);
      for (let f = 0; f < 8; f++)
        for (let y = 0; y < 16; y++)
          for (let x = 0; x < 16; x++)
            for (let c = 0; c < 3; c++) {
              const at = (xx: number, yy: number) => big.frames[f * PER + (yy * 32 + xx) * 3 + c];
              const sum = at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1);
              assert.equal(small.frames[f * 768 + (y * 16 + x) * 3 + c], Math.floor(sum / 4));
            }
      const set = loadVideoShapes('test', { count: 3 });
      const t = videoClipsTensor(set, [2, 0]);
      assert.deepStrictEqual(t.shape, [2, 8, 32, 32, 3]);
      const v = t.dataSync();
      for (let k = 0; k < 8 * PER; k += 97) assert.ok(Math.abs(v[k] - (set.clips[2 * 8 * PER + k] / 127.5 - 1)) < 1e-6);
      t.dispose();
      assert.throws(() => videoClipsTensor(set, [3]), /clip 3 out of range for video-shapes\/test with 3 clips/);
    });

    it('bad parameters and captions are one clear error each', () => {
      assert.throws(() => generateVideoClip(1, 0, { frames: 1 }), /frames must be an integer from 2 .* to 16, got 1/);
      assert.throws(() => generateVideoClip(1, 0, { frames: 17 }), /frames must be an integer from 2 .* to 16, got 17/);
      assert.throws(() => generateVideoClip(1, 0, { size: 24 as 32 }), /frame size must be 32 or 16, got 24/);
      assert.throws(
        () => generateVideoClip(1, 0, { motions: ['spins' as VideoMotion] }),
        /unknown motion 'spins': use one of left, right, up, down, grows, shrinks, recolour/,
      );
      assert.throws(() => planVideoClip(1, -1), /index must be a non-negative integer/);
      assert.throws(
        () => loadVideoShapes('valid' as 'test'),
        /unknown split 'valid' for video-shapes: use one of train, test/,
      );
      assert.throws(
        () => parseVideoCaption('a red circle spins around'),
        /unknown motion 'spins around' \(use moves left, moves right, moves up, moves down, grows, shrinks or changes/,
      );
      assert.throws(
        () => parseVideoCaption('a red circle changes colour to red'),
        /'red' is not a colour it can change to/,
      );
      assert.throws(() => parseVideoCaption('a purple circle grows'), /unknown colour 'purple'/);
      assert.throws(() => parseVideoCaption('a red hexagon grows'), /unknown shape 'hexagon'/);
      assert.throws(() => parseVideoCaption(''), /non-empty string/);
      const bad: VideoLabel = { ...planVideoClip(1, 0), path: [{ x: 30, y: 0, side: 8, colour: 'red' }] };
      assert.throws(() => renderVideoClip(bad), /frame 0: a 8-px cell at \(30, 0\) does not fit 32x32/);
      assert.ok(COLOUR_NAMES.length === 7 && SHAPE_KINDS.length === 5);
    });
  });

  describe('per-frame motion measure', () => {
    const set = loadVideoShapes('test', { count: 140 });

    it('real clips match their captions: every attribute, one-way motion, consistency 1', () => {
      const r = videoMotionScore(set.captions, set.clips);
      assert.deepStrictEqual(
        { object: r.overall.object, colour: r.overall.colour, motion: r.overall.motion, all: r.overall.all },
        { object: 1, colour: 1, motion: 1, all: 1 },
      );
      assert.equal(r.overall.consistency, 1);
      for (const m of VIDEO_MOTIONS) assert.ok(r.byMotion[m].clips >= 8, `${m}: ${r.byMotion[m].clips} clips`);
      // The measured displacement is the label's, exactly.
      r.scores.forEach((s, i) => {
        const p = set.labels[i].path;
        assert.equal(s.measured.travelX, p[7].x + p[7].side / 2 - (p[0].x + p[0].side / 2));
        assert.equal(s.measured.travelY, p[7].y + p[7].side / 2 - (p[0].y + p[0].side / 2));
        assert.equal(s.measured.growth, p[7].side - p[0].side);
      });
      // The same clips as floats in [-1, 1] (what a model produces) score the same.
      const signed = videoMotionScore(set.captions, toSigned(set.clips));
      assert.equal(signed.overall.all, 1);
      // Any clip length.
      for (const frames of [2, 3, 16]) {
        const other = loadVideoShapes('test', { count: 35, frames });
        const o = videoMotionScore(other.captions, other.clips, { frames });
        assert.deepStrictEqual([o.overall.all, o.overall.consistency], [1, 1], `${frames} frames`);
      }
    });

    it('shuffled, frozen and reversed frames get the motion wrong', () => {
      const per = 8 * PER;
      const clip = (i: number) => set.clips.subarray(i * per, (i + 1) * per);
      const shuffled = new Uint8Array(set.clips.length);
      const frozen = new Uint8Array(set.clips.length);
      const reversed = new Uint8Array(set.clips.length);
      for (let i = 0; i < set.count; i++) {
        shuffled.set(reorder(clip(i), [3, 0, 6, 1, 7, 2, 5, 4]), i * per);
        frozen.set(reorder(clip(i), [0, 0, 0, 0, 0, 0, 0, 0]), i * per);
        reversed.set(reorder(clip(i), [7, 6, 5, 4, 3, 2, 1, 0]), i * per);
      }
      const sh = videoMotionScore(set.captions, shuffled);
      assert.equal(sh.overall.motion, 0);
      assert.equal(sh.overall.object, 1); // the object is still there in every frame
      // Moving objects jump by 3 frames' worth and more: those pairs are inconsistent.
      assert.ok(sh.byMotion.right.consistency < 0.8, `shuffled 'right' consistency ${sh.byMotion.right.consistency}`);
      const fr = videoMotionScore(set.captions, frozen);
      assert.equal(fr.overall.motion, 0);
      assert.ok(fr.scores.every((s) => s.measured.motion === 'static'));
      assert.equal(fr.overall.consistency, 1); // consistent, but not what was asked
      const rv = videoMotionScore(set.captions, reversed);
      assert.equal(rv.overall.motion, 0);
      rv.scores.forEach((s) => {
        if (s.requested.motion === 'recolour')
          assert.equal(s.colour, false); // starts in the other colour
        else assert.equal(s.measured.motion, OPPOSITE[s.requested.motion]);
      });
    });

    it('16-px clips: motion and colour mostly survive the 2x2 averaging, the shapes often do not', () => {
      const small = loadVideoShapes('test', { count: 140, size: 16 });
      const r = videoMotionScore(small.captions, small.clips, { size: 16 });
      // (On 500 test clips: object 71.6 %, colour and motion 98.6 %, consistency 0.83.)
      assert.ok(r.overall.motion > 0.95 && r.overall.colour > 0.95, JSON.stringify(r.overall));
      assert.ok(r.overall.object < 0.85, JSON.stringify(r.overall));
      // The motions lost are small rings: a 2-px ring off the 2x2 grid leaves no block 3/4 covered.
      const lost = r.scores.filter((s) => !s.motion);
      assert.ok(lost.length > 0);
      lost.forEach((s) => assert.deepStrictEqual([s.requested.shape, s.measured.motion], ['ring', 'lost']));
      console.log(
        `      16 px: object ${r.overall.object.toFixed(3)}, all ${r.overall.all.toFixed(3)}, ` +
          `consistency ${r.overall.consistency.toFixed(3)}`,
      );
      // The documented loss: at 4 px a small circle is no circle. Moving right 1 px a frame (cells at x = 5..12), it
      // reads as a square on odd cells and a cross on even ones; at 32 px it is a circle in every frame.
      const label = planVideoClip(1, 0, { motions: ['right'] });
      const path = label.path.map((o) => ({ ...o, side: 8 }));
      assert.deepStrictEqual(
        path.map((o) => o.x),
        [5, 6, 7, 8, 9, 10, 11, 12],
      );
      const shapes = (size: 16 | 32) =>
        measureClip(renderVideoClip({ ...label, shape: 'circle', path }, size), { size }).tracked.map((t) => t?.shape);
      assert.deepStrictEqual(shapes(16), ['square', 'cross', 'square', 'cross', 'square', 'cross', 'square', 'cross']);
      assert.deepStrictEqual(shapes(32), new Array(8).fill('circle'));
    });

    it('a clip of the wrong length or a caption with an unknown motion is one clear error', () => {
      const five = set.clips.subarray(0, 5 * PER);
      assert.throws(
        () => measureClip(five),
        /a clip of 8 frames of 32x32x3 holds 24576 values, got 15360 \(5 frames\?\)/,
      );
      assert.throws(() => measureClip(five, { frames: 5, size: 16 }), /holds 3840 values, got 15360 \(20 frames\?\)/);
      assert.ok(measureClip(five, { frames: 5 }).motion !== 'lost');
      assert.throws(
        () => videoMotionScore(['a red circle spins'], set.clips.subarray(0, 8 * PER)),
        /unknown motion 'spins'/,
      );
      assert.throws(
        () => videoMotionScore(set.captions.slice(0, 2), set.clips.subarray(0, 8 * PER)),
        /2 captions need 2 clips of 8 frames of 32x32x3 \(49152 values\), got 24576 values/,
      );
      assert.throws(
        () => measureClip(set.clips.subarray(0, 8 * PER), { minTravel: -1 }),
        /minTravel must be a finite number >= 0/,
      );
    });
  });
});
