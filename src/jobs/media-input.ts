/**
 * Inputs given as bytes or pixels rather than paths: written into a job's private folder, so
 * every task reads files as the command line does. Encoded bytes keep their format (named by
 * their first bytes); a raw frame is written as a lossless PNG.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isInversionBuffer, readInversionHeader } from '../edit/frames/inversion-file.js';
import { readHead } from '../media/file-bytes.js';
import { encodeRawPng, type RawFrame } from '../media/image.js';
import { isVideoPath } from '../media/video.js';
import { EXIT, UserError } from './errors.js';

/** An image, a clip or an inversion file: a path, its encoded bytes, or (an image) raw 8-bit pixels. */
export type MediaInput = string | Uint8Array | RawFrame;

const startsWith = (b: Uint8Array, text: string, at = 0) => b.length >= at + text.length && Buffer.from(b.subarray(at, at + text.length)).toString('latin1') === text;

/** The file name ending that says what encoded bytes hold, from their signature; null when none is known. */
export function extensionOf(bytes: Uint8Array): string | null {
  if (startsWith(bytes, '\x89PNG\r\n\x1a\n')) return '.png';
  if (startsWith(bytes, '\xff\xd8\xff')) return '.jpg';
  if (startsWith(bytes, 'RIFF') && startsWith(bytes, 'WEBP', 8)) return '.webp';
  if (startsWith(bytes, 'RIFF') && startsWith(bytes, 'AVI ', 8)) return '.avi';
  if (startsWith(bytes, 'FLOWINV1')) return '.flowinv';
  if (startsWith(bytes, 'ftypqt', 4)) return '.mov';
  if (startsWith(bytes, 'ftyp', 4)) return '.mp4';
  if (startsWith(bytes, '\x1a\x45\xdf\xa3')) return '.mkv';
  if (startsWith(bytes, 'GIF8')) return '.gif';
  return null;
}

function isRawFrame(v: unknown): v is RawFrame {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && 'data' in v && 'width' in v;
}

/**
 * The path a task reads `input` from: a path as it is; bytes or a raw frame written into `dir` as
 * `name` with the ending their format needs. `what` names the option in errors (input, mask).
 */
export async function inputPath(input: MediaInput, dir: string, name: string, what: string): Promise<string> {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) {
    const ext = extensionOf(input);
    if (ext === null) {
      const head = Buffer.from(input.subarray(0, 8)).toString('hex');
      throw new UserError(`Expected ${what} bytes of a PNG, JPEG or WebP image, a clip (MP4, MOV, MKV, WebM, GIF, AVI) or an inversion file, but they start ${head || '(empty)'}: pass a path, the file's bytes, or a raw frame { width, height, channels, data }`, EXIT.usage);
    }
    const path = join(dir, `${name}${ext}`);
    await writeFile(path, input);
    return path;
  }
  if (isRawFrame(input)) {
    const png = await encodeRawPng(input, `${what} raw frame`).catch((err: Error) => {
      throw new UserError(err.message, EXIT.usage);
    });
    const path = join(dir, `${name}.png`);
    await writeFile(path, png);
    return path;
  }
  throw new UserError(`Expected ${what} as a path, a Buffer or Uint8Array of an encoded file, or a raw frame { width, height, channels: 3 | 4, data } but received ${typeof input}`, EXIT.usage);
}

/**
 * What a task's output is named when the caller gives no path: a clip for a clip (or an
 * inversion of one), else a PNG. An input that cannot be read is left to the task's own checks.
 */
export async function resultExtension(inputPath: string): Promise<'.mp4' | '.png'> {
  const head = await readHead(inputPath, 8).catch(() => null);
  if (head !== null && isInversionBuffer(head)) {
    const header = await readInversionHeader(inputPath).catch(() => null);
    return header?.clip !== undefined ? '.mp4' : '.png';
  }
  return isVideoPath(inputPath) ? '.mp4' : '.png';
}
