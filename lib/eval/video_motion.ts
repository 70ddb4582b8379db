// Scoring clips against their captions (lesson 17): the course's exact shapes detector (lib/eval/shapes)
// on every frame, then what the object did across the frames.
//
// Per frame the tracked object is the largest detection (a generator's stray blobs are smaller), with its
// box centre and side in pixels of the 32x32 world (a 16-px frame is enlarged 2x by pixel repetition
// first, so its numbers are on the same scale). Across the frames, from the first to the last frame
// that shows an object:
//   travel  = the box centre's displacement in x and y;  growth = the change of the box's longer side;
//   colour  = the first and last colour.
// An event happened when |travel| or |growth| reaches `minTravel` (3 px, F - 1 for F < 4 frames: the data
// move at least 1 px a frame, so 7 px or more over 8 frames, and grow by 6) or the colour differs. One event
// is the measured motion ('right', 'grows', 'recolour', ...); none is 'static', several 'mixed', fewer
// than two frames with an object 'lost'. A motion also has to go one way: no step may go back by more
// than `tolerance` px (1), and a colour changes once, without flickering back. Shuffled frames fail that.
//
// A clip matches its caption when the most frequent shape is the caption's (object), the first tracked
// colour is the caption's (colour), and the measured motion is the caption's, going one way, to the
// caption's colour for a change (motion). Frame consistency: the share of neighbouring frame pairs that
// both show exactly one object, of the same shape, whose centre moved at most `maxJump` px (4: twice the
// data's fastest step).
import {
  VIDEO_MOTIONS,
  VideoFrameSize,
  VideoMotion,
  VideoRequest,
  checkVideoFrameSize,
  checkVideoFrames,
  parseVideoCaption,
  videoClipLength,
} from '../../datasets/video_shapes';
import { SHAPES_SIZE, ShapeColour, ShapeKind } from '../../datasets/shapes';
import { DetectOptions, detectObjects } from './shapes/detect';

export interface VideoMeasureOptions {
  /** Frames per clip (default 8). */
  frames?: number;
  /** Frame side, 32 (default) or 16. */
  size?: VideoFrameSize;
  /** Passed to the detector (the value range of float clips, default '[-1,1]'). */
  detect?: DetectOptions;
  /** Smallest displacement or size change, in px, that counts as an event (default 3, or frames - 1 if less). */
  minTravel?: number;
  /** How far, in px, a step may go against the motion and still count as going one way (default 1). */
  tolerance?: number;
  /** Largest centre step, in px, of a consistent pair of frames (default 4). */
  maxJump?: number;
}

/** The object followed in one frame. */
export interface TrackedObject {
  shape: ShapeKind;
  colour: ShapeColour;
  /** Box centre and longer side in px of the 32x32 world. */
  cx: number;
  cy: number;
  side: number;
}

export type MeasuredMotion = VideoMotion | 'static' | 'mixed' | 'lost';

export interface ClipMotion {
  /** Per frame: the largest detection, or null. */
  tracked: (TrackedObject | null)[];
  /** Per frame: how many objects the detector found. */
  counts: number[];
  /** The most frequent shape over the frames (ties: the earlier frame's), or null. */
  shape: ShapeKind | null;
  /** The first and last tracked colours. */
  firstColour: ShapeColour | null;
  lastColour: ShapeColour | null;
  travelX: number;
  travelY: number;
  growth: number;
  motion: MeasuredMotion;
  /** The motion went one way (see the header); false for 'mixed' and 'lost'. */
  oneWay: boolean;
  /** Share of neighbouring frame pairs that look like one object moving smoothly. */
  consistency: number;
}

interface Resolved {
  frames: number;
  size: VideoFrameSize;
  detect: DetectOptions;
  minTravel: number;
  tolerance: number;
  maxJump: number;
}

function resolve(opts: VideoMeasureOptions, who: string): Resolved {
  const frames = opts.frames ?? 8;
  checkVideoFrames(frames, who);
  const size = opts.size ?? 32;
  checkVideoFrameSize(size, who);
  const px = (name: 'minTravel' | 'tolerance' | 'maxJump', def: number): number => {
    const v = opts[name] ?? def;
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`${who}: ${name} must be a finite number >= 0, got ${v}`);
    return v;
  };
  return {
    frames,
    size,
    detect: opts.detect ?? {},
    minTravel: px('minTravel', Math.min(3, frames - 1)),
    tolerance: px('tolerance', 1),
    maxJump: px('maxJump', 4),
  };
}

/** A 16x16x3 frame enlarged 2x by repeating pixels (same array type). */
function enlarge(frame: Uint8Array | Float32Array): Uint8Array | Float32Array {
  const S = SHAPES_SIZE;
  const out = frame instanceof Uint8Array ? new Uint8Array(S * S * 3) : new Float32Array(S * S * 3);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++)
      for (let c = 0; c < 3; c++) out[(y * S + x) * 3 + c] = frame[((y >> 1) * (S / 2) + (x >> 1)) * 3 + c];
  return out;
}

function checkClip(clip: Uint8Array | Float32Array, r: Resolved, who: string): void {
  if (!(clip instanceof Uint8Array) && !(clip instanceof Float32Array))
    throw new Error(`${who}: a clip must be a Uint8Array (0-255) or a Float32Array`);
  const want = videoClipLength(r.frames, r.size);
  if (clip.length !== want) {
    const per = r.size * r.size * 3;
    const has = clip.length % per === 0 ? ` (${clip.length / per} frames?)` : '';
    throw new Error(
      `${who}: a clip of ${r.frames} frames of ${r.size}x${r.size}x3 holds ${want} values, got ${clip.length}${has}`,
    );
  }
}

/** What the object in one clip (frames after frames, HWC) did. */
export function measureClip(clip: Uint8Array | Float32Array, opts: VideoMeasureOptions = {}): ClipMotion {
  const r = resolve(opts, 'measureClip');
  checkClip(clip, r, 'measureClip');
  const per = r.size * r.size * 3;
  const tracked: (TrackedObject | null)[] = [];
  const counts: number[] = [];
  for (let f = 0; f < r.frames; f++) {
    let frame: Uint8Array | Float32Array = clip.subarray(f * per, (f + 1) * per);
    if (r.size !== SHAPES_SIZE) frame = enlarge(frame);
    const found = detectObjects(frame, r.detect);
    counts.push(found.length);
    if (found.length === 0) {
      tracked.push(null);
      continue;
    }
    const d = found.reduce((a, b) => (b.pixels > a.pixels ? b : a));
    const [x0, y0, x1, y1] = d.box.map((v) => v * SHAPES_SIZE);
    tracked.push({
      shape: d.shape,
      colour: d.colour,
      cx: (x0 + x1) / 2,
      cy: (y0 + y1) / 2,
      side: Math.max(x1 - x0, y1 - y0),
    });
  }
  const seen = tracked.filter((t): t is TrackedObject => t !== null);
  const consistency = pairConsistency(tracked, counts, r.maxJump);
  if (seen.length < 2) {
    return {
      tracked,
      counts,
      shape: seen.length ? seen[0].shape : null,
      firstColour: seen.length ? seen[0].colour : null,
      lastColour: seen.length ? seen[0].colour : null,
      travelX: 0,
      travelY: 0,
      growth: 0,
      motion: 'lost',
      oneWay: false,
      consistency,
    };
  }
  const first = seen[0];
  const last = seen[seen.length - 1];
  const travelX = last.cx - first.cx;
  const travelY = last.cy - first.cy;
  const growth = last.side - first.side;
  const events: VideoMotion[] = [];
  if (Math.max(Math.abs(travelX), Math.abs(travelY)) >= r.minTravel) {
    if (Math.abs(travelX) >= Math.abs(travelY)) events.push(travelX > 0 ? 'right' : 'left');
    else events.push(travelY > 0 ? 'down' : 'up');
  }
  if (Math.abs(growth) >= r.minTravel) events.push(growth > 0 ? 'grows' : 'shrinks');
  if (first.colour !== last.colour) events.push('recolour');
  const motion: MeasuredMotion = events.length === 0 ? 'static' : events.length === 1 ? events[0] : 'mixed';
  return {
    tracked,
    counts,
    shape: mostFrequent(seen.map((t) => t.shape)),
    firstColour: first.colour,
    lastColour: last.colour,
    travelX,
    travelY,
    growth,
    motion,
    oneWay: goesOneWay(seen, motion, r.tolerance),
    consistency,
  };
}

/** The most frequent value; a tie goes to the value seen first. */
function mostFrequent<T>(values: T[]): T | null {
  const n = new Map<T, number>();
  for (const v of values) n.set(v, (n.get(v) ?? 0) + 1);
  const top = Math.max(0, ...n.values());
  return values.find((v) => n.get(v) === top) ?? null;
}

/** No step goes back by more than `tolerance` along the motion; a colour changes exactly once. */
function goesOneWay(seen: TrackedObject[], motion: MeasuredMotion, tolerance: number): boolean {
  if (motion === 'static') return true;
  if (motion === 'mixed' || motion === 'lost') return false;
  if (motion === 'recolour') {
    let changes = 0;
    for (let i = 1; i < seen.length; i++) if (seen[i].colour !== seen[i - 1].colour) changes++;
    return changes === 1;
  }
  const value = (t: TrackedObject): number =>
    motion === 'left' || motion === 'right' ? t.cx : motion === 'up' || motion === 'down' ? t.cy : t.side;
  const sign = motion === 'right' || motion === 'down' || motion === 'grows' ? 1 : -1;
  for (let i = 1; i < seen.length; i++) if (sign * (value(seen[i]) - value(seen[i - 1])) < -tolerance) return false;
  return true;
}

function pairConsistency(tracked: (TrackedObject | null)[], counts: number[], maxJump: number): number {
  let ok = 0;
  for (let f = 1; f < tracked.length; f++) {
    const a = tracked[f - 1];
    const b = tracked[f];
    if (a === null || b === null || counts[f - 1] !== 1 || counts[f] !== 1 || a.shape !== b.shape) continue;
    if (Math.hypot(b.cx - a.cx, b.cy - a.cy) <= maxJump) ok++;
  }
  return ok / (tracked.length - 1);
}

export interface ClipScore {
  requested: VideoRequest;
  measured: ClipMotion;
  /** The most frequent shape is the caption's. */
  object: boolean;
  /** The first tracked colour is the caption's. */
  colour: boolean;
  /** The measured motion is the caption's (to its colour, for a change) and goes one way. */
  motion: boolean;
  all: boolean;
}

/** How one measured clip compares with its caption (parseVideoCaption's errors for a caption it cannot read). */
export function scoreClip(caption: string, measured: ClipMotion): ClipScore {
  const requested = parseVideoCaption(caption);
  const object = measured.shape === requested.shape;
  const colour = measured.firstColour === requested.colour;
  const motion =
    measured.motion === requested.motion &&
    measured.oneWay &&
    (requested.motion !== 'recolour' || measured.lastColour === requested.toColour);
  return { requested, measured, object, colour, motion, all: object && colour && motion };
}

export interface VideoMotionGroup {
  clips: number;
  /** Shares of clips (NaN for no clips: "no data" must not read as 0 % or 100 %). */
  object: number;
  colour: number;
  motion: number;
  all: number;
  /** Mean frame consistency. */
  consistency: number;
}

export interface VideoMotionReport {
  overall: VideoMotionGroup;
  /** Per requested motion. */
  byMotion: Record<VideoMotion, VideoMotionGroup>;
  scores: ClipScore[];
}

function group(scores: ClipScore[]): VideoMotionGroup {
  const n = scores.length;
  const share = (k: 'object' | 'colour' | 'motion' | 'all') => (n ? scores.filter((s) => s[k]).length / n : NaN);
  return {
    clips: n,
    object: share('object'),
    colour: share('colour'),
    motion: share('motion'),
    all: share('all'),
    consistency: n ? scores.reduce((a, s) => a + s.measured.consistency, 0) / n : NaN,
  };
}

/**
 * Scores n clips (n * frames * size * size * 3 values, clip after clip) against their n captions.
 * Every caption is parsed before any frame is measured, so an unreadable caption fails fast.
 */
export function videoMotionScore(
  captions: readonly string[],
  clips: Uint8Array | Float32Array,
  opts: VideoMeasureOptions = {},
): VideoMotionReport {
  const r = resolve(opts, 'videoMotionScore');
  if (!Array.isArray(captions)) throw new Error('videoMotionScore: captions must be an array of strings');
  captions.forEach((c) => parseVideoCaption(c));
  const per = videoClipLength(r.frames, r.size);
  if (clips.length !== captions.length * per)
    throw new Error(
      `videoMotionScore: ${captions.length} captions need ${captions.length} clips of ${r.frames} frames of ` +
        `${r.size}x${r.size}x3 (${captions.length * per} values), got ${clips.length} values`,
    );
  const scores = captions.map((c, i) => scoreClip(c, measureClip(clips.subarray(i * per, (i + 1) * per), opts)));
  const byMotion = {} as Record<VideoMotion, VideoMotionGroup>;
  for (const m of VIDEO_MOTIONS) byMotion[m] = group(scores.filter((s) => s.requested.motion === m));
  return { overall: group(scores), byMotion, scores };
}
