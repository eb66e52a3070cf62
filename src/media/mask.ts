/**
 * Edit masks. A mask is read from one still (applied to every frame), a folder of per-frame
 * images, or a mask video, and becomes 0/1 by one rule chosen for all its frames: a mask with
 * transparency is its alpha (at least half opaque = edit); a colour or palette mask (index colours,
 * e.g. (128, 0, 0) per object) marks every pixel that is not black; a grey mask marks luma above
 * mid grey. It is then aligned with the input (scaled with a warning when its size differs; a
 * differing frame count is an error), optionally inverted, grown and feathered. Growing and
 * feathering come from one Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance
 * Transforms of Sampled Functions", 2012).
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { floatToByte, imageSize, readImageChannels, type ImageChannels, type RgbImage } from './image.js';
import type { FfmpegTools } from './ffmpeg-tools.js';
import { DECLARED_FRAME_SLACK, isVideoPath, probeVideo, videoFrames } from './video.js';

/** Per-frame coverage in [0, 1], each frame [height, width] row-major; one frame applies to every frame. */
export interface Mask {
  readonly width: number;
  readonly height: number;
  readonly frames: readonly Float32Array[];
}

export interface MaskOptions {
  /** dilate the edit region by this many pixels */
  readonly grow: number;
  /** soft edge this many pixels wide, outside the grown region */
  readonly feather: number;
  /** edit what is black instead of what is white */
  readonly invert: boolean;
}

/** Natural order, so frame2.png sorts before frame10.png. */
const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

const MASK_IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff'];

/** Whether a file name is a mask image (a still, or one frame of a mask folder). */
export function isMaskImagePath(path: string): boolean {
  return MASK_IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** The mask images of a folder, in natural name order; throws when there are none. */
async function maskFolderNames(path: string): Promise<string[]> {
  const names = (await readdir(path)).filter(isMaskImagePath).sort(natural.compare);
  if (names.length === 0) throw new Error(`Mask folder ${path} holds no images (expected one PNG per frame, e.g. 0001.png, 0002.png, …)`);
  return names;
}

/**
 * A mask's frame count (1 for a still) without decoding its pixels: a folder's images are
 * counted (the first is checked to be readable), a mask video is probed with ffprobe.
 */
export async function maskFrameCount(path: string, tools?: FfmpegTools): Promise<number> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`Mask not found: ${path}`);
  if (info.isDirectory()) {
    const names = await maskFolderNames(path);
    await imageSize(join(path, names[0]!));
    return names.length;
  }
  if (isVideoPath(path)) return (await probeVideo(path, tools)).frames;
  await imageSize(path);
  return 1;
}

/** Alpha at or above half opacity (of 255) is an edit. */
const ALPHA_EDIT = 128;
/** Channels further apart than this (of 255) make a pixel coloured; JPEG and video noise on grey stay below it. */
const CHROMA_TOLERANCE = 16;
/** In a colour mask a pixel whose brightest channel exceeds this (of 255) is an edit; below it is black with noise. */
const BLACK_LEVEL = 10;
/** In a grey mask luma above mid grey (of 255) is an edit. */
const GREY_EDIT = 127.5;

/** How a mask's pixels become 0/1: by alpha, by "not black", or by luma above mid grey. */
type MaskRule = 'alpha' | 'colour' | 'grey';

function hasTransparency(f: ImageChannels): boolean {
  if (f.channels !== 4) return false;
  for (let i = 3; i < f.data.length; i += 4) if (f.data[i]! < 255) return true;
  return false;
}

function isColoured(f: ImageChannels): boolean {
  if (f.palette) return true;
  const { data, channels } = f;
  for (let i = 0; i < data.length; i += channels) {
    const r = data[i]!;
    const g = data[i + 1]!;
    const b = data[i + 2]!;
    if (Math.max(r, g, b) - Math.min(r, g, b) > CHROMA_TOLERANCE) return true;
  }
  return false;
}

/** The rule for a whole mask: alpha if any frame is transparent somewhere, else colour if any frame has colour, else grey. */
function maskRule(frames: readonly ImageChannels[]): MaskRule {
  if (frames.some(hasTransparency)) return 'alpha';
  return frames.some(isColoured) ? 'colour' : 'grey';
}

/** One frame as 0/1 under `rule` ([h, w] row-major, 1 = edit, one byte a pixel); a frame without alpha counts as opaque. */
function ruleBits(f: ImageChannels, rule: MaskRule): Uint8Array {
  const { data, channels } = f;
  const out = new Uint8Array(f.width * f.height);
  for (let i = 0, j = 0; i < out.length; i++, j += channels) {
    const r = data[j]!;
    const g = data[j + 1]!;
    const b = data[j + 2]!;
    if (rule === 'alpha') out[i] = (channels === 4 ? data[j + 3]! : 255) >= ALPHA_EDIT ? 1 : 0;
    else if (rule === 'colour') out[i] = Math.max(r, g, b) > BLACK_LEVEL ? 1 : 0;
    else out[i] = 0.299 * r + 0.587 * g + 0.114 * b > GREY_EDIT ? 1 : 0;
  }
  return out;
}

/** One frame as 0/1 under `rule`, as a plane ([h, w], float). */
function applyRule(f: ImageChannels, rule: MaskRule): Float32Array {
  return Float32Array.from(ruleBits(f, rule));
}

/** A decoded video frame (planar float RGB) as 8-bit interleaved RGB. */
function frameChannels(img: RgbImage): ImageChannels {
  const n = img.width * img.height;
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = floatToByte(img.data[c * n + i]!);
  return { width: img.width, height: img.height, channels: 3, data, palette: false };
}

/**
 * A mask video, decoded once, no frame held as RGB: each frame is kept as 0/1 under both rules
 * a video can have (1 byte a pixel each) until a coloured frame settles the rule as colour
 * (from then on only colour planes are made); the kept rule's planes ([h, w], 4 bytes a pixel)
 * are made at the end.
 */
async function readMaskVideo(path: string, opts: { tools?: FfmpegTools; signal?: AbortSignal }): Promise<Mask> {
  let coloured = false;
  const colour: Uint8Array[] = [];
  const grey: Uint8Array[] = [];
  let size = { width: 0, height: 0 };
  for await (const f of videoFrames(path, opts)) {
    size = { width: f.width, height: f.height };
    const ch = frameChannels(f);
    coloured ||= isColoured(ch);
    colour.push(ruleBits(ch, 'colour'));
    if (coloured) grey.length = 0;
    else grey.push(ruleBits(ch, 'grey'));
  }
  if (colour.length === 0) throw new Error(`Mask video ${path} holds no mask frames`);
  const kept = coloured ? colour : grey;
  const frames: Float32Array[] = [];
  for (let i = 0; i < kept.length; i++) {
    frames.push(Float32Array.from(kept[i]!));
    kept[i] = new Uint8Array(0);
  }
  return { ...size, frames };
}

function fromFrames(frames: readonly ImageChannels[], what: string): Mask {
  const first = frames[0];
  if (!first) throw new Error(`${what} holds no mask frames`);
  frames.forEach((f, i) => {
    if (f.width !== first.width || f.height !== first.height) {
      throw new Error(`${what}: mask frame ${i} is ${f.width}x${f.height} but the first is ${first.width}x${first.height}; all frames must have one size`);
    }
  });
  const rule = maskRule(frames);
  return { width: first.width, height: first.height, frames: frames.map((f) => applyRule(f, rule)) };
}

/**
 * Reads a mask: an image file (one mask for every frame), a folder of per-frame images (in
 * natural name order) or a video (one mask per frame). One rule reads all its frames: if any
 * frame has transparency, alpha at least half opaque = edit (a cut-out on a transparent
 * background); else if any is in colour (or an index-colour PNG), every pixel that is not black
 * = edit, so each object of a palette mask counts; else (grey) luma above mid grey = edit.
 * A video has no alpha, so only the last two apply to it.
 */
export async function readMask(path: string, opts: { tools?: FfmpegTools; signal?: AbortSignal } = {}): Promise<Mask> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`Mask not found: ${path}`);
  if (info.isDirectory()) {
    const names = await maskFolderNames(path);
    const frames: ImageChannels[] = [];
    for (const n of names) frames.push(await readImageChannels(join(path, n)));
    return fromFrames(frames, `Mask folder ${path}`);
  }
  if (isVideoPath(path)) return readMaskVideo(path, opts);
  return fromFrames([await readImageChannels(path)], `Mask ${path}`);
}

/** Nearest-neighbour scaling of one [h, w] plane to [H, W]. */
function scalePlane(src: Float32Array, w: number, h: number, W: number, H: number): Float32Array {
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / H));
    for (let x = 0; x < W; x++) {
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / W));
      out[y * W + x] = src[sy * w + sx]!;
    }
  }
  return out;
}

/** Squared distance standing in for "no mask pixel": finite, and exact in float64 when q² (≤ 1e8) is added. */
const FAR = 1e12;

/** 1-D squared distance transform of f (length n) into d, using scratch v (parabola sites) and z (boundaries). */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    // s: where the parabolas of sites p = v[k] and q cross
    const fq = f[q]! + q * q;
    let p = v[k]!;
    let s = (fq - (f[p]! + p * p)) / (2 * q - 2 * p);
    while (s <= z[k]!) {
      p = v[--k]!; // z[0] = −∞ stops it
      s = (fq - (f[p]! + p * p)) / (2 * q - 2 * p);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const p = v[k]!;
    d[q] = (q - p) * (q - p) + f[p]!;
  }
}

/** Euclidean distance from every pixel to the nearest pixel with value ≥ 0.5: [h, w]. */
export function distanceToMask(m: Float32Array, w: number, h: number): Float64Array {
  const g = new Float64Array(w * h);
  for (let i = 0; i < g.length; i++) g[i] = m[i]! >= 0.5 ? 0 : FAR;
  const n = Math.max(w, h);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = g[y * w + x]!;
    edt1d(f, h, d, v, z);
    for (let y = 0; y < h; y++) g[y * w + x] = d[y]!;
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = g[y * w + x]!;
    edt1d(f, w, d, v, z);
    for (let x = 0; x < w; x++) g[y * w + x] = Math.sqrt(d[x]!);
  }
  return g;
}

/** Grows a binary plane by `grow` pixels and adds a linear soft edge `feather` pixels wide outside it. */
export function growAndFeather(m: Float32Array, w: number, h: number, grow: number, feather: number): Float32Array {
  if (grow === 0 && feather === 0) return m;
  const dist = distanceToMask(m, w, h);
  const out = new Float32Array(w * h);
  for (let i = 0; i < out.length; i++) {
    const d = dist[i]!;
    out[i] = d <= grow ? 1 : feather > 0 ? Math.max(0, 1 - (d - grow) / feather) : 0;
  }
  return out;
}

function checkPixels(name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0)) throw new Error(`Expected a non-negative number of pixels for ${name} but received ${v}`);
}

/** Validates mask options (before any work). */
export function checkMaskOptions(o: MaskOptions): void {
  checkPixels('--mask-grow', o.grow);
  checkPixels('--mask-feather', o.feather);
}

/**
 * Checks that a mask of `maskFrames` frames fits an input of `frames` frames: a single still fits
 * any; otherwise the counts must match. Throws a message stating both counts.
 */
export function assertMaskFrames(maskFrames: number, frames: number, what = 'the input'): void {
  if (maskFrames !== 1 && maskFrames !== frames) {
    throw new Error(`The mask has ${maskFrames} frames but ${what} has ${frames}: give one mask per frame, or a single still for every frame`);
  }
}

/**
 * A per-frame mask brought to `frames` frames. A clip and a mask video whose declared counts agree
 * can decode up to DECLARED_FRAME_SLACK frames apart (containers overstate their counts): such a
 * mask is trimmed, or its last frame repeated. Larger differences are refused.
 */
function conformFrames(frames: readonly Float32Array[], count: number): readonly Float32Array[] {
  const n = frames.length;
  if (n === 1 || n === count || Math.abs(n - count) > DECLARED_FRAME_SLACK) {
    assertMaskFrames(n, count);
    return frames;
  }
  return Array.from({ length: count }, (_, i) => frames[Math.min(i, n - 1)]!);
}

/** Whether a value of a 0/1 plane is an edit, given --invert-mask. */
const edits = (v: number, invert: boolean): boolean => (invert ? v < 0.5 : v >= 0.5);

/** Refuses a mask that selects nothing (all black; all white when inverted): the edit would change nothing. */
function assertCovers(planes: readonly Float32Array[], invert: boolean): void {
  if (planes.some((m) => m.some((v) => edits(v, invert)))) return;
  throw new Error(
    invert
      ? 'the mask covers no pixels: with --invert-mask, paint the region to edit black (and the rest white or any colour), or drop --invert-mask'
      : 'the mask covers no pixels: paint the region to edit white or any colour on black, or opaque on a transparent background',
  );
}

/**
 * Refuses a mask that selects no pixel (with `invert`, one that is edit everywhere), so that the
 * check can run before a model loads. Throws a message saying how to paint the mask.
 */
export function assertMaskCovers(mask: Mask, invert: boolean): void {
  assertCovers(mask.frames, invert);
}

/** Whether a mask selects every pixel of every frame: a swap would then keep nothing of the source. */
function coversAll(planes: readonly Float32Array[], invert: boolean): boolean {
  return planes.every((m) => m.every((v) => edits(v, invert)));
}

/**
 * A mask aligned with an input whose planes are shaped when asked, one at a time: a long clip's
 * final blend then never holds every plane at the source size (4 bytes a pixel a frame). A mask
 * of one plane (a still for every frame) keeps that plane once made.
 */
export interface ShapedMask {
  /** the input's size */
  readonly width: number;
  readonly height: number;
  /** planes: 1 (one for every frame) or the input's frame count */
  readonly count: number;
  /** plane i ([height, width] in [0, 1]): brought to the input's size, inverted, grown and feathered */
  plane(i: number): Promise<Float32Array>;
}

/** Brings a mask plane of the mask's own size to the input's ([h, w] → [H, W] in [0, 1]). */
export type PlaneScaler = (plane: Float32Array) => Promise<Float32Array>;

/**
 * The checks of aligning a mask with an input: its frame count conformed (see conformFrames), a
 * mask that selects no pixel refused, one that selects every pixel warned about (once), and a
 * size that differs warned about unless the caller brings it to size itself. Returns its planes.
 */
function checkedPlanes(
  mask: Mask,
  target: { width: number; height: number; frames: number },
  o: MaskOptions,
  onWarning: ((message: string) => void) | undefined,
  callerScales: boolean,
): readonly Float32Array[] {
  checkMaskOptions(o);
  const planes = conformFrames(mask.frames, target.frames);
  assertCovers(planes, o.invert);
  if (coversAll(planes, o.invert)) {
    onWarning?.('The mask covers every pixel, so the whole frame is regenerated from the target prompt and no source pixel is kept: to change the whole frame while keeping its layout, use `flowedit edit` instead');
  }
  if ((mask.width !== target.width || mask.height !== target.height) && !callerScales) {
    onWarning?.(`The mask is ${mask.width}x${mask.height} but the input is ${target.width}x${target.height}: the mask was scaled to fit`);
  }
  return planes;
}

/** A plane at the input's size [H, W], inverted when asked, grown and feathered. */
function finishPlane(m: Float32Array, W: number, H: number, o: MaskOptions): Float32Array {
  if (m.length !== W * H) throw new Error(`A mask plane brought to ${W}x${H} has ${m.length} values`);
  return growAndFeather(o.invert ? m.map((v) => 1 - v) : m, W, H, o.grow, o.feather);
}

/** Nearest scaling of a mask plane to the input's size, when its size differs. */
function nearestToTarget(f: Float32Array, mask: Mask, W: number, H: number): Float32Array {
  return mask.width !== W || mask.height !== H ? scalePlane(f, mask.width, mask.height, W, H) : f;
}

/**
 * Aligns a mask with an input of width × height × frames, checking it now (see checkedPlanes) and
 * shaping its planes when asked. A mask of another size is brought to the input's by `scale` when
 * given (e.g. a mask made at a model's working size, restored as its frames are), else scaled
 * (nearest). Each plane is then inverted, grown and feathered as it is taken.
 */
export function alignMask(
  mask: Mask,
  target: { width: number; height: number; frames: number },
  o: MaskOptions,
  onWarning?: (message: string) => void,
  scale?: PlaneScaler,
): ShapedMask {
  const planes = checkedPlanes(mask, target, o, onWarning, scale !== undefined);
  const { width: W, height: H } = target;
  const same = mask.width === W && mask.height === H;
  const shape = async (f: Float32Array): Promise<Float32Array> => finishPlane(same || !scale ? nearestToTarget(f, mask, W, H) : await scale(f), W, H, o);
  let only: Promise<Float32Array> | undefined; // the one plane of a single-still mask, once made
  const plane = (i: number): Promise<Float32Array> => {
    if (planes.length !== 1) return shape(planes[i]!);
    only ??= shape(planes[0]!);
    return only;
  };
  return { width: W, height: H, count: planes.length, plane };
}

/** Every plane of a shaped mask, made now, one after another. */
export async function shapedPlanes(s: ShapedMask): Promise<Mask> {
  const frames: Float32Array[] = [];
  for (let i = 0; i < s.count; i++) frames.push(await s.plane(i));
  return { width: s.width, height: s.height, frames };
}

/**
 * Aligns a mask with an input of width × height × frames and shapes every plane now: the checks of
 * alignMask, then each plane scaled (nearest, with a warning) when its size differs, inverted,
 * grown and feathered. The result keeps one frame when the mask was a single still.
 */
export function prepareMask(
  mask: Mask,
  target: { width: number; height: number; frames: number },
  o: MaskOptions,
  onWarning?: (message: string) => void,
): Mask {
  const { width: W, height: H } = target;
  const frames = checkedPlanes(mask, target, o, onWarning, false).map((f) => finishPlane(nearestToTarget(f, mask, W, H), W, H, o));
  return { width: W, height: H, frames };
}

/** The mask plane for frame i (a single still applies to every frame). */
export function maskFrame(mask: Mask, i: number): Float32Array {
  return mask.frames.length === 1 ? mask.frames[0]! : mask.frames[i]!;
}

/** Pixel blend out = m·edited + (1 − m)·source per pixel; where m = 0 the source is copied exactly. */
export function blendMasked(source: RgbImage, edited: RgbImage, m: Float32Array): RgbImage {
  if (source.width !== edited.width || source.height !== edited.height || m.length !== source.width * source.height) {
    throw new Error(`Cannot blend ${edited.width}x${edited.height} into ${source.width}x${source.height} with a mask of ${m.length} pixels`);
  }
  const n = m.length;
  const data = new Float32Array(source.data);
  for (let i = 0; i < n; i++) {
    const a = m[i]!;
    if (a === 0) continue;
    for (let c = 0; c < 3; c++) {
      const j = c * n + i;
      data[j] = a * edited.data[j]! + (1 - a) * source.data[j]!;
    }
  }
  return { width: source.width, height: source.height, data };
}

/**
 * Runs an image operation (a fit, a restore) on a mask plane [H, W] in [0, 1]: the plane goes in
 * as a grey image (2m − 1 in every channel) and comes out clamped to [0, 1].
 */
export async function mapMaskPlane(m: Float32Array, width: number, height: number, op: (img: RgbImage) => Promise<RgbImage>): Promise<Float32Array> {
  const out = await op(maskPlaneImage(m, width, height));
  const n = out.width * out.height;
  return Float32Array.from(out.data.subarray(0, n), (v) => Math.min(1, Math.max(0, (v + 1) / 2))); // [H', W']
}

/** A mask plane [H, W] in [0, 1] as a grey image (white = 1), e.g. to save it. */
export function maskPlaneImage(m: Float32Array, width: number, height: number): RgbImage {
  if (m.length !== width * height) throw new Error(`A mask plane of ${m.length} values is not ${width}x${height}`);
  const grey = new Float32Array(3 * m.length); // [3, H, W], 2m − 1 in every channel
  for (let c = 0; c < 3; c++) for (let i = 0; i < m.length; i++) grey[c * m.length + i] = 2 * m[i]! - 1;
  return { width, height, data: grey };
}
