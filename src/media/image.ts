/**
 * Image decoding, encoding and resizing. This is the only module in flowedit that talks to
 * sharp; everything above it sees images as planar float RGB in [-1, 1].
 */
import { timedIo } from './profile.js';
import { stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { assertInputPixels, DEFAULT_MAX_INPUT_PIXELS } from './limits.js';

/**
 * An RGB image held as planar float32 values: `data` has layout [3, height, width]
 * (all red values row by row, then green, then blue), each value in [-1, 1] where
 * -1 is black and 1 is full intensity.
 */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** Largest value of a 16-bit sample; the working domain for resizing. */
const U16_MAX = 65535;

/** Converts an 8-bit sample to the float range: v / 127.5 - 1. */
export function byteToFloat(v: number): number {
  return v / 127.5 - 1;
}

/** Converts a float sample to 8 bits: round((v + 1) * 127.5), clamped to [0, 255]. */
export function floatToByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}

function checkDimension(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`Expected a positive integer for ${name} but received ${String(value)}`);
  }
}

/** Throws a clear error unless `img` is a well-formed RgbImage. */
export function assertRgbImage(img: RgbImage, what = 'image'): void {
  checkDimension(`${what} width`, img.width);
  checkDimension(`${what} height`, img.height);
  const expected = 3 * img.width * img.height;
  if (!(img.data instanceof Float32Array) || img.data.length !== expected) {
    const got = img.data instanceof Float32Array ? `${img.data.length} values` : 'no Float32Array';
    throw new Error(
      `Expected ${what} data to hold 3 x ${img.height} x ${img.width} = ${expected} float values but it has ${got}`,
    );
  }
}

/** Planar float [3, h, w] → interleaved 8-bit RGB, clamped and rounded. */
function toInterleavedBytes(img: RgbImage): Uint8Array {
  const plane = img.width * img.height;
  const out = new Uint8Array(plane * 3);
  const d = img.data;
  for (let i = 0; i < plane; i++) {
    out[i * 3] = floatToByte(d[i] as number);
    out[i * 3 + 1] = floatToByte(d[plane + i] as number);
    out[i * 3 + 2] = floatToByte(d[2 * plane + i] as number);
  }
  return out;
}

/**
 * Planar float [3, h, w] in [-1, 1] → interleaved float RGB on the 16-bit scale [0, 65535],
 * clamped. sharp tags non-8-bit raw input as 16-bit RGB, so this scale makes it pass through
 * untouched while libvips resamples in float.
 */
function toInterleavedU16Scale(img: RgbImage): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(plane * 3);
  const d = img.data;
  const half = U16_MAX / 2;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = d[c * plane + i] as number;
      out[i * 3 + c] = !(v > -1) ? 0 : v >= 1 ? U16_MAX : (v + 1) * half; // NaN → 0
    }
  }
  return out;
}

/**
 * Interleaved samples → planar float [3, h, w]. With 1 or 2 bands the first is grey; with
 * 3 or 4 the first three are RGB. When `hasAlpha`, the last band is alpha and the colour is
 * composited onto white: c·a + max·(1 − a).
 */
function fromInterleaved(
  samples: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  hasAlpha: boolean,
  maxValue: number,
): RgbImage {
  const plane = width * height;
  const data = new Float32Array(plane * 3);
  const colourBands = hasAlpha ? channels - 1 : channels;
  const scale = 2 / maxValue;
  for (let i = 0; i < plane; i++) {
    const base = i * channels;
    const alpha = hasAlpha ? (samples[base + channels - 1] as number) / maxValue : 1;
    for (let c = 0; c < 3; c++) {
      let v = samples[base + (colourBands >= 3 ? c : 0)] as number;
      if (alpha < 1) v = v * alpha + maxValue * (1 - alpha);
      data[c * plane + i] = v * scale - 1;
    }
  }
  return { width, height, data };
}

function u16View(buf: Buffer): Uint16Array {
  if (buf.byteOffset % 2 === 0) return new Uint16Array(buf.buffer, buf.byteOffset, buf.length / 2);
  const copy = new Uint8Array(buf);
  return new Uint16Array(copy.buffer, 0, copy.length / 2);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Checks that `path` names an existing regular file, with the errors readImage documents. */
async function assertInputFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new Error(`Input image not found: ${path}`);
    }
    throw new Error(`Cannot read ${path} as an image (expected PNG, JPEG or WebP): ${reason(err)}`, {
      cause: err,
    });
  }
  if (!info.isFile()) {
    throw new Error(
      `Cannot read ${path} as an image (expected PNG, JPEG or WebP): it is ${info.isDirectory() ? 'a directory' : 'not a regular file'}`,
    );
  }
}

function decodeError(path: string, err: unknown): Error {
  return new Error(`Cannot read ${path} as an image (expected PNG, JPEG or WebP): ${reason(err)}`, {
    cause: err,
  });
}

/**
 * Reads an image file (PNG, JPEG, WebP or anything else sharp decodes; for animated files
 * the first frame) as planar RGB in [-1, 1].
 *
 * - EXIF orientation is applied, so the result is upright as a viewer would show it.
 * - Transparency is flattened onto a white background, and the alpha channel dropped.
 * - Greyscale and CMYK images are converted to sRGB.
 * - 16-bit images keep their 16-bit precision; 8-bit images map value v to v / 127.5 - 1.
 *
 * - An image of more than `opts.maxInputPixels` pixels (default DEFAULT_MAX_INPUT_PIXELS) is
 *   refused from its header, before any pixel is decoded.
 *
 * Throws `Input image not found: <path>` when the file does not exist and
 * `Cannot read <path> as an image (expected PNG, JPEG or WebP): <reason>` when it cannot be decoded.
 */
export function readImage(path: string, opts: { maxInputPixels?: number } = {}): Promise<RgbImage> {
  return timedIo('decode', () => decodeImage(path, opts));
}

/** The work of readImage. */
async function decodeImage(path: string, opts: { maxInputPixels?: number }): Promise<RgbImage> {
  const meta = await readMetadata(path);
  // the header's size is checked before decoding: a small file can hold a huge image
  assertInputPixels(path, meta.width ?? 0, meta.height ?? 0, opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS);
  try {
    const sixteenBit = meta.depth === 'ushort';
    // Alpha is kept here and flattened in fromInterleaved: sharp's flatten() scales an 8-bit
    // background by 256 for 16-bit images, which would make white slightly grey.
    const { data, info } = await sharp(path)
      .rotate()
      .toColourspace(sixteenBit ? 'rgb16' : 'srgb')
      .raw(sixteenBit ? { depth: 'ushort' } : {})
      .toBuffer({ resolveWithObject: true });
    const { width, height, channels } = info;
    const hasAlpha = info.hasAlpha ?? (channels === 2 || channels === 4);
    return sixteenBit
      ? fromInterleaved(u16View(data), width, height, channels, hasAlpha, U16_MAX)
      : fromInterleaved(data, width, height, channels, hasAlpha, 255);
  } catch (err) {
    throw decodeError(path, err);
  }
}

/**
 * Resizes to exactly width x height (aspect ratio is not preserved) with a Lanczos-3 filter.
 * Resampling runs in float and the result is stored with 16-bit precision (steps of 3e-5,
 * far below one 8-bit step), clamped to [-1, 1]. NaN values count as -1.
 * Returns a copy when the size is unchanged.
 */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  assertRgbImage(img);
  checkDimension('width', width);
  checkDimension('height', height);
  if (width === img.width && height === img.height) {
    return { width, height, data: new Float32Array(img.data) };
  }
  const input = toInterleavedU16Scale(img);
  const { data, info } = await sharp(input, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .toColourspace('rgb16')
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new Error(
      `Resizing produced a ${info.width}x${info.height}x${info.channels} image instead of ${width}x${height}x3`,
    );
  }
  return fromInterleaved(u16View(data), width, height, 3, false, U16_MAX);
}

/**
 * Encodes as an 8-bit RGB PNG. Values are clamped to [-1, 1] and mapped to
 * round((v + 1) * 127.5), so images read from 8-bit files round-trip exactly.
 */
export function encodePng(img: RgbImage): Promise<Buffer> {
  return timedIo('encode', () => pngOf(img));
}

/** The work of encodePng. */
async function pngOf(img: RgbImage): Promise<Buffer> {
  assertRgbImage(img);
  const bytes = toInterleavedBytes(img);
  return sharp(bytes, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png()
    .toBuffer();
}

/** 8-bit interleaved pixels, as sharp's raw output: `data` holds height × width × channels bytes. */
export interface RawFrame {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

/** A raw frame as a PNG, losslessly (RGB or RGBA as given); refused unless its size and data agree. */
export async function encodeRawPng(frame: RawFrame, what = 'raw frame'): Promise<Buffer> {
  checkDimension(`${what} width`, frame.width);
  checkDimension(`${what} height`, frame.height);
  if (frame.channels !== 3 && frame.channels !== 4) throw new Error(`Expected 3 or 4 channels for the ${what} but received ${String(frame.channels)}`);
  const expected = frame.width * frame.height * frame.channels;
  if (!(frame.data instanceof Uint8Array) || frame.data.length !== expected) {
    const got = frame.data instanceof Uint8Array ? `${frame.data.length} bytes` : 'no Uint8Array';
    throw new Error(`Expected the ${what}'s data to hold ${frame.height} x ${frame.width} x ${frame.channels} = ${expected} bytes (8-bit, interleaved) but it has ${got}`);
  }
  return sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: frame.channels } }).png().toBuffer();
}

/**
 * Rasterises an SVG document (e.g. text labels) at its own width and height, one pixel per SVG
 * unit, flattened onto white where it is transparent. Text needs a font fontconfig can find.
 */
export async function renderSvg(svg: string): Promise<RgbImage> {
  const { data, info } = await sharp(Buffer.from(svg), { density: 72 }).flatten({ background: '#ffffff' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return fromInterleaved(data, info.width, info.height, info.channels, false, 255);
}

/** sharp's metadata of an input file, with this module's errors. */
async function readMetadata(path: string): Promise<Metadata> {
  await assertInputFile(path);
  try {
    return await sharp(path).metadata();
  } catch (err) {
    throw decodeError(path, err);
  }
}

/**
 * Size and format of an image file without decoding its pixels. Width and height are
 * after EXIF orientation, i.e. the size readImage returns. `format` is sharp's name
 * for it (`png`, `jpeg`, `webp`, ...).
 */
export async function imageSize(path: string): Promise<{ width: number; height: number; format: string }> {
  const meta = await readMetadata(path);
  const oriented = (meta as { autoOrient?: { width: number; height: number } }).autoOrient;
  const width = oriented?.width ?? meta.width;
  const height = oriented?.height ?? meta.height;
  if (width === undefined || height === undefined) {
    throw decodeError(path, new Error('its size is unknown'));
  }
  return { width, height, format: meta.format };
}

/**
 * Text chunks (tEXt, zTXt, iTXt) of a PNG file as keyword → text, as decoded by sharp.
 * Returns an empty record for images without any. When a keyword repeats, the last one wins.
 */
export async function readPngComments(path: string): Promise<Record<string, string>> {
  const meta = await readMetadata(path);
  const out: Record<string, string> = {};
  for (const { keyword, text } of meta.comments ?? []) {
    // defineProperty keeps keywords such as `__proto__` as plain data
    Object.defineProperty(out, keyword, { value: text, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * An image's channels as stored, for reading masks: interleaved 8-bit sRGB samples, `channels`
 * 3 (RGB) or 4 (RGBA, alpha not premultiplied). `palette` says the file is an index-colour PNG
 * (its palette is expanded to RGB).
 */
export interface ImageChannels {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
  palette: boolean;
}

/**
 * Reads an image file with its alpha channel kept, for masks: unlike readImage, transparency is
 * not flattened. EXIF orientation is applied; greyscale becomes three equal channels; 16-bit
 * images are reduced to 8 bits. Throws readImage's errors.
 */
export async function readImageChannels(path: string): Promise<ImageChannels> {
  await assertInputFile(path);
  try {
    const meta = await sharp(path).metadata();
    const { data, info } = await sharp(path).rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 && info.channels !== 4) throw new Error(`it decodes to ${info.channels} channels, expected RGB or RGBA`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { width: info.width, height: info.height, channels: info.channels, data: bytes, palette: meta.isPalette === true };
  } catch (err) {
    throw decodeError(path, err);
  }
}

/**
 * Decodes every pixel of an image file without keeping them (libvips streams it through a small
 * thumbnail), failing on a truncated or corrupt file: the check to make before a long job reads
 * it. Throws `Cannot read <path> as an image …: <reason>`.
 */
export async function assertImageDecodes(path: string): Promise<void> {
  await assertInputFile(path);
  try {
    await sharp(path, { failOn: 'truncated', sequentialRead: true }).resize(8, 8, { fit: 'fill' }).raw().toBuffer();
  } catch (err) {
    throw new Error(`Cannot read ${path} as an image: its pixels do not decode, so the file is truncated or damaged (${reason(err).trim()}); export or copy it again`, { cause: err });
  }
}

/**
 * The checks to make on a still before a long job reads it: within `maxInputPixels` from its
 * header (nothing decoded), then decoded once to find a truncated or damaged file. Returns its size.
 */
export async function assertStillReadable(path: string, maxInputPixels: number = DEFAULT_MAX_INPUT_PIXELS): Promise<{ width: number; height: number }> {
  const size = await imageSize(path);
  assertInputPixels(path, size.width, size.height, maxInputPixels);
  await assertImageDecodes(path);
  return size;
}
