// Captioned clips of one coloured shape doing one thing: lesson 17's seeded video data set.
//
// A clip is `frames` frames (default 8) of the shapes data set's world (datasets/shapes.ts: its palette,
// its five shapes drawn by its own inShape, black background, no anti-aliasing, every shape touching all
// four sides of its integer cell). One object per clip, and one motion:
//   moves left / right / up / down  1 or 2 px a frame, small (8 px) or large (14 px);
//   grows / shrinks                 8 -> 14 px (or back), its cell centred on a fixed point (within 1/2 px);
//   changes colour to X            in place, from frame floor(F/2) on (an abrupt switch: a blend between two
//                                  palette colours passes through colours the detector calls black).
// The caption says it: 'a red circle moves right', 'a green ring grows', 'a blue cross changes colour to
// yellow' (no size and no place: the motion is what the lesson is about). The label holds the object's cell
// in every frame, so lib/eval/video_motion.ts can be checked against it. Clip i of seed s depends only on
// (s, i), as in datasets/shapes.ts.
//
// Frame size 32 is the shapes world as is. Size 16 (the CPU-friendly option: 4x fewer pixels) averages each
// 32x32 frame over 2x2 blocks; it loses detail the detector needs: a small circle reads as a square or a
// cross depending on where its cell falls on the 2x2 grid, a small ring can vanish. On 500 test clips the
// detector gets the object of 72 % of them right, the colour and motion of 99 %. 32 px is the default.
import * as tf from '@tensorflow/tfjs-core';
import { ImageSet, toTensor } from './imageset';
import {
  COLOUR_NAMES,
  SHAPES_SIZE,
  SHAPE_COLOURS,
  SHAPE_KINDS,
  SHAPE_SIZES,
  ShapeColour,
  ShapeKind,
  inShape,
  itemRng,
} from './shapes';

export const VIDEO_MOTIONS = ['left', 'right', 'up', 'down', 'grows', 'shrinks', 'recolour'] as const;
export type VideoMotion = (typeof VIDEO_MOTIONS)[number];
export const VIDEO_FRAME_SIZES = [32, 16] as const;
export type VideoFrameSize = (typeof VIDEO_FRAME_SIZES)[number];
export const VIDEO_DEFAULT_FRAMES = 8;
/** A large shape moving 1 px a frame crosses the 32-px world in 18 frames; 16 leaves room to start anywhere. */
export const VIDEO_MAX_FRAMES = 16;

/** The object in one frame: its cell (top-left x, y and side, in pixels of the 32x32 world) and colour. */
export interface VideoFrameObject {
  x: number;
  y: number;
  side: number;
  colour: ShapeColour;
}

/** What a caption asks for. */
export interface VideoRequest {
  shape: ShapeKind;
  /** The colour in the first frame. */
  colour: ShapeColour;
  motion: VideoMotion;
  /** 'recolour': the colour it changes to; otherwise null. */
  toColour: ShapeColour | null;
}

/** A clip's structured label: the request plus where the object is in every frame. */
export interface VideoLabel extends VideoRequest {
  path: VideoFrameObject[];
}

export interface VideoClip {
  /** frames * size * size * 3 values, frame after frame, each HWC, 0-255. */
  frames: Uint8Array;
  label: VideoLabel;
  caption: string;
}

export interface VideoShapesOptions {
  /** Frames per clip, 2..VIDEO_MAX_FRAMES (default 8). */
  frames?: number;
  /** Frame side: 32 (default) or 16 (2x2 averages of the 32-px frames). */
  size?: VideoFrameSize;
  /** Draw only these motions (default all, equally often). */
  motions?: readonly VideoMotion[];
}

interface Resolved {
  frames: number;
  size: VideoFrameSize;
  motions: readonly VideoMotion[];
}

function resolve(opts: VideoShapesOptions, who: string): Resolved {
  const frames = opts.frames ?? VIDEO_DEFAULT_FRAMES;
  checkVideoFrames(frames, who);
  const size = opts.size ?? 32;
  checkVideoFrameSize(size, who);
  const motions = opts.motions ?? VIDEO_MOTIONS;
  if (!Array.isArray(motions) || motions.length === 0)
    throw new Error(`${who}: motions must be a non-empty list of ${VIDEO_MOTIONS.join(', ')}`);
  for (const m of motions) {
    if (!(VIDEO_MOTIONS as readonly string[]).includes(m))
      throw new Error(`${who}: unknown motion '${String(m)}': use one of ${VIDEO_MOTIONS.join(', ')}`);
  }
  return { frames, size, motions };
}

export function checkVideoFrames(frames: number, who: string): void {
  if (!Number.isInteger(frames) || frames < 2 || frames > VIDEO_MAX_FRAMES) {
    throw new Error(
      `${who}: frames must be an integer from 2 (a motion needs two frames) to ${VIDEO_MAX_FRAMES}, got ${frames}`,
    );
  }
}

export function checkVideoFrameSize(size: number, who: string): asserts size is VideoFrameSize {
  if (!(VIDEO_FRAME_SIZES as readonly number[]).includes(size))
    throw new Error(`${who}: frame size must be ${VIDEO_FRAME_SIZES.join(' or ')}, got ${size}`);
}

/** Values in one clip of `frames` frames of size x size x 3. */
export function videoClipLength(frames: number, size: VideoFrameSize): number {
  return frames * size * size * 3;
}

/** 'moves right', 'grows', 'changes colour to blue'. */
export function motionPhrase(motion: VideoMotion, toColour: ShapeColour | null): string {
  switch (motion) {
    case 'left':
    case 'right':
    case 'up':
    case 'down':
      return `moves ${motion}`;
    case 'grows':
    case 'shrinks':
      return motion;
    case 'recolour':
      if (toColour === null) throw new Error("motionPhrase: 'recolour' needs the colour it changes to");
      return `changes colour to ${toColour}`;
  }
}

/** 'a red circle moves right'. */
export function videoCaption(r: VideoRequest): string {
  return `a ${r.colour} ${r.shape} ${motionPhrase(r.motion, r.toColour)}`;
}

/** Every motion phrase but the colour change, and the motion it names. */
const PHRASES: Map<string, VideoMotion> = new Map(
  VIDEO_MOTIONS.filter((m) => m !== 'recolour').map((m): [string, VideoMotion] => [motionPhrase(m, null), m]),
);
const RECOLOUR_PREFIX = 'changes colour to ';

/**
 * The request a caption makes: the inverse of videoCaption. Throws, naming the word, for anything
 * videoCaption cannot have written (an unknown colour, shape or motion).
 */
export function parseVideoCaption(caption: string): VideoRequest {
  if (typeof caption !== 'string' || caption.trim() === '')
    throw new Error(`parseVideoCaption: caption must be a non-empty string, got ${JSON.stringify(caption)}`);
  const where = `caption ${JSON.stringify(caption)}`;
  const words = caption.trim().split(/\s+/);
  const [article, colour, shape] = words;
  const rest = words.slice(3).join(' ');
  if (article !== 'a' || words.length < 4)
    throw new Error(`parseVideoCaption: ${where} must read 'a <colour> <shape> <motion>'`);
  if (!(COLOUR_NAMES as string[]).includes(colour))
    throw new Error(`parseVideoCaption: ${where}: unknown colour '${colour}' (use ${COLOUR_NAMES.join(', ')})`);
  if (!(SHAPE_KINDS as readonly string[]).includes(shape))
    throw new Error(`parseVideoCaption: ${where}: unknown shape '${shape}' (use ${SHAPE_KINDS.join(', ')})`);
  const req = { colour: colour as ShapeColour, shape: shape as ShapeKind };
  const motion = PHRASES.get(rest);
  if (motion !== undefined) return { ...req, motion, toColour: null };
  if (rest.startsWith(RECOLOUR_PREFIX)) {
    const to = rest.slice(RECOLOUR_PREFIX.length);
    if (!(COLOUR_NAMES as string[]).includes(to) || to === colour)
      throw new Error(
        `parseVideoCaption: ${where}: '${to}' is not a colour it can change to ` +
          `(use ${COLOUR_NAMES.filter((c) => c !== colour).join(', ')})`,
      );
    return { ...req, motion: 'recolour', toColour: to as ShapeColour };
  }
  throw new Error(
    `parseVideoCaption: ${where}: unknown motion '${rest}' ` +
      `(use ${[...PHRASES.keys()].join(', ')} or ${RECOLOUR_PREFIX}<colour>)`,
  );
}

/** Clip `index` of seed `seed`'s label: the object, its motion and its cell in every frame (no pixels). */
export function planVideoClip(seed: number, index: number, opts: VideoShapesOptions = {}): VideoLabel {
  const { frames: F, motions } = resolve(opts, 'planVideoClip');
  if (!Number.isInteger(index) || index < 0)
    throw new Error(`planVideoClip: index must be a non-negative integer, got ${index}`);
  const rng = itemRng(seed, index);
  const motion = motions[rng.int(motions.length)];
  const shape = SHAPE_KINDS[rng.int(SHAPE_KINDS.length)];
  const colour = COLOUR_NAMES[rng.int(COLOUR_NAMES.length)];
  const W = SHAPES_SIZE;
  const small = SHAPE_SIZES.small;
  const large = SHAPE_SIZES.large;
  const path: VideoFrameObject[] = [];
  let toColour: ShapeColour | null = null;
  if (motion === 'grows' || motion === 'shrinks') {
    // Cells of every side nest in one large cell, centred in it (to within half a pixel).
    const x0 = rng.int(W - large + 1);
    const y0 = rng.int(W - large + 1);
    for (let f = 0; f < F; f++) {
      const t = motion === 'grows' ? f : F - 1 - f;
      const side = small + Math.round(((large - small) * t) / (F - 1));
      const off = Math.floor((large - side) / 2);
      path.push({ x: x0 + off, y: y0 + off, side, colour });
    }
  } else {
    const side = rng.uniform() < 0.5 ? small : large;
    const room = W - side;
    if (motion === 'recolour') {
      const others = COLOUR_NAMES.filter((c) => c !== colour);
      toColour = others[rng.int(others.length)];
      const x = rng.int(room + 1);
      const y = rng.int(room + 1);
      const at = Math.floor(F / 2);
      for (let f = 0; f < F; f++) path.push({ x, y, side, colour: f < at ? colour : toColour });
    } else {
      // 1 or 2 px a frame when the whole path fits at 2, else 1 (checkVideoFrames keeps 1 px always fitting).
      const speed = (F - 1) * 2 <= room ? 1 + rng.int(2) : 1;
      const travel = (F - 1) * speed;
      const start = rng.int(room - travel + 1);
      const across = rng.int(room + 1);
      const forward = motion === 'right' || motion === 'down';
      for (let f = 0; f < F; f++) {
        const along = forward ? start + f * speed : start + travel - f * speed;
        const horizontal = motion === 'left' || motion === 'right';
        path.push({ x: horizontal ? along : across, y: horizontal ? across : along, side, colour });
      }
    }
  }
  return { shape, colour, motion, toColour, path };
}

/** Draws one frame's object into a black 32x32x3 image. */
function drawObject(image: Uint8Array, shape: ShapeKind, o: VideoFrameObject, where: string): void {
  const W = SHAPES_SIZE;
  if (
    !Number.isInteger(o.side) ||
    o.side < 2 ||
    !Number.isInteger(o.x) ||
    !Number.isInteger(o.y) ||
    o.x < 0 ||
    o.y < 0 ||
    o.x + o.side > W ||
    o.y + o.side > W
  )
    throw new Error(`renderVideoClip: ${where}: a ${o.side}-px cell at (${o.x}, ${o.y}) does not fit ${W}x${W}`);
  const rgb = SHAPE_COLOURS[o.colour];
  if (rgb === undefined) throw new Error(`renderVideoClip: ${where}: unknown colour '${o.colour}'`);
  for (let j = 0; j < o.side; j++) {
    for (let i = 0; i < o.side; i++) {
      if (!inShape(shape, i, j, o.side)) continue;
      const p = ((o.y + j) * W + o.x + i) * 3;
      image[p] = rgb[0];
      image[p + 1] = rgb[1];
      image[p + 2] = rgb[2];
    }
  }
}

/**
 * 2x2 block means of a 32x32x3 frame into `out` at `offset`, rounded down: a half-covered block (127)
 * stays below the detector's half-brightness threshold, three quarters (191) is above it.
 */
function halve(src: Uint8Array, out: Uint8Array, offset: number): void {
  const W = SHAPES_SIZE;
  const H = W / 2;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < H; x++) {
      for (let c = 0; c < 3; c++) {
        const at = (xx: number, yy: number) => src[(yy * W + xx) * 3 + c];
        const sum = at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1);
        out[offset + (y * H + x) * 3 + c] = Math.floor(sum / 4);
      }
    }
  }
}

/** The frames of a label (frame after frame, HWC, 0-255) at frame size 32 or 16. */
export function renderVideoClip(label: VideoLabel, size: VideoFrameSize = 32): Uint8Array {
  checkVideoFrameSize(size, 'renderVideoClip');
  if (!(SHAPE_KINDS as readonly string[]).includes(label.shape))
    throw new Error(`renderVideoClip: unknown shape '${label.shape}': use one of ${SHAPE_KINDS.join(', ')}`);
  const F = label.path.length;
  const per32 = SHAPES_SIZE * SHAPES_SIZE * 3;
  const per = size * size * 3;
  const out = new Uint8Array(F * per);
  const frame = new Uint8Array(per32);
  label.path.forEach((o, f) => {
    frame.fill(0);
    drawObject(frame, label.shape, o, `frame ${f}`);
    if (size === SHAPES_SIZE) out.set(frame, f * per);
    else halve(frame, out, f * per);
  });
  return out;
}

/** Clip `index` of the data set with this seed: its frames, label and caption. */
export function generateVideoClip(seed: number, index: number, opts: VideoShapesOptions = {}): VideoClip {
  const { size } = resolve(opts, 'generateVideoClip');
  const label = planVideoClip(seed, index, opts);
  return { frames: renderVideoClip(label, size), label, caption: videoCaption(label) };
}

export interface VideoSet {
  kind: 'video';
  name: 'video-shapes';
  split: string;
  /** count clips of frames x height x width x 3, uint8 0-255 (videoClipsTensor gives [-1, 1] floats). */
  clips: Uint8Array;
  count: number;
  frames: number;
  height: number;
  width: number;
  channels: 3;
  captions: string[];
  labels: VideoLabel[];
  seed: number;
}

export type VideoShapesSplit = 'train' | 'test';
/** Default seeds and sizes of the two splits (different seeds: disjoint draws, and not the image set's). */
export const VIDEO_SHAPES_SPLITS: Record<VideoShapesSplit, { seed: number; count: number }> = {
  train: { seed: 171, count: 2000 },
  test: { seed: 172, count: 500 },
};

export interface LoadVideoShapesOptions extends VideoShapesOptions {
  count?: number;
  seed?: number;
}

/** A whole split in memory (2,000 clips of 8 x 32 x 32 x 3 are 49 MB). */
export function loadVideoShapes(split: VideoShapesSplit, opts: LoadVideoShapesOptions = {}): VideoSet {
  const def = VIDEO_SHAPES_SPLITS[split];
  if (def === undefined)
    throw new Error(
      `unknown split '${split}' for video-shapes: use one of ${Object.keys(VIDEO_SHAPES_SPLITS).join(', ')}`,
    );
  const { frames, size } = resolve(opts, 'loadVideoShapes');
  const count = opts.count ?? def.count;
  const seed = opts.seed ?? def.seed;
  if (!Number.isInteger(count) || count < 0)
    throw new Error(`loadVideoShapes: count must be a non-negative integer, got ${count}`);
  const per = videoClipLength(frames, size);
  const clips = new Uint8Array(count * per);
  const captions: string[] = [];
  const labels: VideoLabel[] = [];
  for (let i = 0; i < count; i++) {
    const clip = generateVideoClip(seed, i, opts);
    clips.set(clip.frames, i * per);
    captions.push(clip.caption);
    labels.push(clip.label);
  }
  return {
    kind: 'video',
    name: 'video-shapes',
    split,
    clips,
    count,
    frames,
    height: size,
    width: size,
    channels: 3,
    captions,
    labels,
    seed,
  };
}

/** [n, frames, H, W, 3] float32 of the chosen clips (default all), pixels mapped to [-1, 1]. */
export function videoClipsTensor(set: VideoSet, indices?: ArrayLike<number>): tf.Tensor5D {
  const chosen = indices ?? Array.from({ length: set.count }, (_, i) => i);
  const F = set.frames;
  const frameIdx = new Int32Array(chosen.length * F);
  for (let k = 0; k < chosen.length; k++) {
    const i = chosen[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.count)
      throw new Error(`videoClipsTensor: clip ${i} out of range for video-shapes/${set.split} with ${set.count} clips`);
    for (let f = 0; f < F; f++) frameIdx[k * F + f] = i * F + f;
  }
  // The clips' frames seen as one image set: the image sets' own conversion, then a frame axis.
  const asImages: ImageSet = {
    kind: 'images',
    name: set.name,
    split: set.split,
    images: set.clips,
    labels: new Uint8Array(set.count * F),
    count: set.count * F,
    height: set.height,
    width: set.width,
    channels: set.channels,
    classNames: [],
  };
  return tf.tidy(() =>
    tf.reshape(toTensor(asImages, { indices: frameIdx }), [chosen.length, F, set.height, set.width, 3]),
  ) as tf.Tensor5D;
}
