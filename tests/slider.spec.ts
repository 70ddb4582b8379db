// lib/course/display/slider.ts: figures with plotly frames, a slider and a play button, and image
// mosaics as one heatmap. Checked on the figure JSON and on the bundle showPlot sends (plotBundle).
import { strict as assert } from 'assert';
import { plotBundle, PLOTLY_MIME } from '../lib/course/display/plot';
import {
  figureBytes,
  imageMosaic,
  imageMosaicLayout,
  imageMosaicTrace,
  roundTrace,
  SliderFrame,
  sliderFigure,
} from '../lib/course/display/slider';

// n images of h×w whose pixel values encode (image, row, col), so a misplaced pixel shows.
const images = (n: number, h: number, w: number) =>
  Array.from({ length: n }, (_, k) => Float32Array.from({ length: h * w }, (_, i) => k * 1000 + i));

function mosaicFrames(count: number, n = 16): SliderFrame[] {
  return Array.from({ length: count }, (_, f) => ({
    label: `t = ${999 - 100 * f}`,
    traces: [
      imageMosaicTrace(
        Array.from({ length: n }, (_, k) => Float32Array.from({ length: 784 }, (_, i) => Math.sin(f + k + i / 7))),
        28,
        28,
        { cols: 4 },
      ),
    ],
  }));
}

describe('slider figures', () => {
  it('one frame per (label, traces), slider steps that animate to the frames by name, a play button', () => {
    const frames = mosaicFrames(5, 4);
    const fig = sliderFigure(frames, { title: 'x' }, { prefix: 't: ', staticFrame: 2 });
    assert.equal(fig.frames.length, 5);
    assert.deepEqual(
      fig.frames.map((f) => f.name),
      frames.map((f) => f.label),
    );
    const slider = (fig.layout.sliders as { steps: { label: string; method: string; args: unknown[] }[] }[])[0];
    assert.equal(slider.steps.length, 5);
    slider.steps.forEach((s, i) => {
      assert.equal(s.method, 'animate');
      assert.deepEqual(s.args[0], [fig.frames[i].name], 'each step animates to its own frame');
      assert.equal(s.label, frames[i].label);
    });
    assert.equal((fig.layout.sliders as { active: number }[])[0].active, 2);
    const menus = fig.layout.updatemenus as { buttons: { label: string; args: unknown[] }[] }[];
    assert.equal(menus[0].buttons[0].args[0], null, 'play animates through all frames');
    assert.equal(fig.layout.title, 'x');
    assert.ok(!('updatemenus' in sliderFigure(frames, {}, { play: false }).layout));
  });

  it("the figure's own data is the static frame (what plotly shows first and the SVG fallback draws)", () => {
    const frames = mosaicFrames(4, 4);
    const fig = sliderFigure(frames, {}, { staticFrame: 3 });
    assert.deepEqual(fig.data, fig.frames[3].data);
    assert.deepEqual(sliderFigure(frames).data, sliderFigure(frames).frames[0].data);
    const bundle = plotBundle(fig.data, fig.layout, fig.frames, false);
    const sent = bundle[PLOTLY_MIME] as { data: unknown; frames: { name: string }[] };
    assert.deepEqual(sent.data, fig.frames[3].data);
    assert.equal(sent.frames.length, 4);
    const svg = bundle['image/svg+xml'] as string;
    assert.equal((svg.match(/class="heatmap"/g) ?? []).length, 1, 'the fallback draws the one mosaic heatmap');
  });

  it('rounds to 3 decimals and stays small: 8 frames of 16 images of 28×28 under 1 MB of JSON', () => {
    const t = roundTrace({ x: Float32Array.from([0.12345, -1.98765]), y: [1 / 3, NaN], z: [[2 / 3]] });
    assert.deepEqual([t.x, t.y, t.z], [[0.123, -1.988], [0.333, null], [[0.667]]]);
    const fig = sliderFigure(mosaicFrames(8, 16));
    const bytes = figureBytes(fig);
    // 8 × 16 × 784 values of at most 6 characters plus separators, and the mosaic's null gaps.
    assert.ok(bytes < 1_000_000, `figure JSON is ${bytes} bytes`);
    assert.ok(bytes > 8 * 16 * 784 * 2, 'every pixel of every frame is there');
  });

  it('tiles images into a mosaic with null gaps, first image top-left', () => {
    const z = imageMosaic(images(3, 2, 3), 2, 3, { cols: 2 });
    // 2 rows of images, each 2 pixel rows, a 1-pixel gap: 5 rows; 2 columns of 3 plus a gap: 7 columns.
    assert.equal(z.length, 5);
    assert.ok(z.every((r) => r.length === 7));
    assert.deepEqual(z[0], [0, 1, 2, null, 1000, 1001, 1002]);
    assert.deepEqual(z[1], [3, 4, 5, null, 1003, 1004, 1005]);
    assert.deepEqual(z[2], [null, null, null, null, null, null, null]);
    assert.deepEqual(z[3], [2000, 2001, 2002, null, null, null, null]);
    const layout = imageMosaicLayout(3, 2, 3, { cols: 2, rowLabels: ['a', 'b'] });
    assert.equal((layout.yaxis as { autorange: string }).autorange, 'reversed', 'row 0 on top');
    assert.equal((layout.yaxis as { scaleanchor: string }).scaleanchor, 'x', 'square pixels');
    assert.deepEqual((layout.yaxis as { tickvals: number[] }).tickvals, [0.5, 3.5]);
    const labelled = imageMosaicLayout(3, 2, 3, { cols: 2, gap: 4, tileLabels: ['a', 'b', 'c'] });
    const notes = labelled.annotations as { text: string; x: number; y: number }[];
    // Centred over each image, just above its first row (the y axis is reversed).
    assert.deepEqual(
      notes.map((a) => [a.text, a.x, a.y]),
      [
        ['a', 1, -0.5],
        ['b', 8, -0.5],
        ['c', 1, 5.5],
      ],
    );
    assert.throws(() => imageMosaic([new Float32Array(5)], 2, 3), /image 0 has 5 values/);
  });

  it('refuses duplicate labels, ragged frames and a static frame out of range', () => {
    const f = mosaicFrames(2, 1);
    assert.throws(() => sliderFigure([]), /at least one frame/);
    assert.throws(() => sliderFigure([f[0], { ...f[1], label: f[0].label }]), /appears twice/);
    assert.throws(() => sliderFigure([f[0], { label: 'b', traces: [...f[1].traces, ...f[1].traces] }]), /2 traces/);
    assert.throws(() => sliderFigure(f, {}, { staticFrame: 2 }), /staticFrame/);
  });
});
