/**
 * The inversion file: everything a later reconstruct or edit needs to reuse one inversion.
 *
 * Layout (little-endian):
 *   bytes 0-7    magic "FLOWINV1"
 *   bytes 8-11   uint32 header length h
 *   bytes 12…    UTF-8 JSON header (InversionHeader), zero-padded to a multiple of 4 bytes
 *   then         float32 trajectory: (steps + 1) latents of the header's latentShape, from the
 *                source latent (t = 0) to the final noise (t = 1); for a clip, one such
 *                trajectory per window, in window order
 */
import { open, readFile } from 'node:fs/promises';
import type { FitPlan } from '../../media/fit.js';
import { sizeOf } from '../../media/tensor.js';
import type { InvertSettings, LatentInversion } from '../latent/invert.js';
import { flowEditVersion } from '../../version.js';
import type { ClipWindow } from './windows.js';

const MAGIC = 'FLOWINV1';
export const INVERSION_EXTENSION = '.flowinv';

export interface InversionHeader {
  readonly format: 'flowedit.inversion';
  readonly version: 1;
  readonly flowedit: string;
  readonly modelId: string;
  readonly settings: InvertSettings;
  readonly ts: readonly number[];
  readonly latentShape: readonly number[];
  readonly source: { readonly path: string; readonly sha256: string; readonly width: number; readonly height: number };
  readonly fit: FitPlan;
  readonly calls: number;
  /** present for a clip: its frame count, frame rate and the windows it was inverted in */
  readonly clip?: {
    readonly frames: number;
    readonly rate: { readonly num: number; readonly den: number };
    readonly windows: readonly ClipWindow[];
  };
}

export interface InversionFile {
  readonly header: InversionHeader;
  /** a still's inversion; for a clip, its first window's */
  readonly inversion: LatentInversion;
  /** a clip's inversions, one per window of header.clip.windows */
  readonly windows?: readonly LatentInversion[];
}

/** The header of an inversion made now by this flowedit: settings, schedule and shape from `first` (a still's, or a clip's first window). */
export function inversionHeader(
  modelId: string,
  first: LatentInversion,
  rest: Pick<InversionHeader, 'source' | 'fit' | 'calls' | 'clip'>,
): InversionHeader {
  return {
    format: 'flowedit.inversion',
    version: 1,
    flowedit: flowEditVersion(),
    modelId,
    settings: first.settings,
    ts: first.ts,
    latentShape: first.latentShape,
    ...rest,
  };
}

/** Latents stored per window: steps + 1. Windows: 1 for a still. */
function windowCount(header: InversionHeader): number {
  return header.clip?.windows.length ?? 1;
}

/** Every window's inversion, in order (one for a still). */
export function inversionsOf(file: InversionFile): readonly LatentInversion[] {
  return file.windows ?? [file.inversion];
}

export function encodeInversion(header: InversionHeader, trajectory: readonly Float32Array[]): Buffer {
  const n = sizeOf(header.latentShape);
  const count = header.ts.length * windowCount(header);
  if (trajectory.length !== count || trajectory.some((x) => x.length !== n)) {
    throw new Error(`Trajectory must hold ${count} latents of ${n} values`);
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerEnd = Math.ceil((12 + json.length) / 4) * 4;
  const out = Buffer.alloc(headerEnd + trajectory.length * n * 4);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(json.length, 8);
  json.copy(out, 12);
  trajectory.forEach((x, i) => {
    const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    bytes.copy(out, headerEnd + i * n * 4);
  });
  return out;
}

function bad(path: string, why: string): Error {
  return new Error(`${path} is not a usable flowedit inversion file (${why}); create one with 'flowedit invert <image> -o <file>${INVERSION_EXTENSION}'`);
}

/** Parses the header at the start of `buf` (which may hold only the first bytes of the file). */
function decodeHeader(buf: Buffer, path: string): { header: InversionHeader; headerLength: number } {
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) throw bad(path, 'wrong magic bytes');
  const h = buf.readUInt32LE(8);
  if (12 + h > buf.length) throw bad(path, 'header runs past the end');
  let header: InversionHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + h)) as InversionHeader;
  } catch {
    throw bad(path, 'header is not JSON');
  }
  if (header.format !== 'flowedit.inversion' || header.version !== 1) throw bad(path, `unsupported format ${header.format} v${header.version}`);
  return { header, headerLength: h };
}

export function decodeInversion(buf: Buffer, path = 'input'): InversionFile {
  const { header, headerLength: h } = decodeHeader(buf, path);
  const n = sizeOf(header.latentShape);
  const headerEnd = Math.ceil((12 + h) / 4) * 4;
  const perWindow = header.ts.length;
  const count = perWindow * windowCount(header);
  if (buf.length !== headerEnd + count * n * 4) throw bad(path, `expected ${count} latents of ${n} values, file size ${buf.length} does not match`);
  const trajectory: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const start = headerEnd + i * n * 4;
    trajectory.push(new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + n * 4)));
  }
  const windows: LatentInversion[] = [];
  for (let w = 0; w < windowCount(header); w++) {
    const calls = Math.round(header.calls / windowCount(header));
    windows.push({ settings: header.settings, ts: header.ts, latentShape: header.latentShape, trajectory: trajectory.slice(w * perWindow, (w + 1) * perWindow), calls });
  }
  return header.clip ? { header, inversion: windows[0]!, windows } : { header, inversion: windows[0]! };
}

/** True when a file starts with the inversion magic bytes. */
export function isInversionBuffer(buf: Buffer): boolean {
  return buf.length >= 8 && buf.toString('latin1', 0, 8) === MAGIC;
}

export async function readInversion(path: string): Promise<InversionFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `Inversion file not found: ${path}` : `Cannot read ${path}: ${(err as Error).message}`);
  }
  return decodeInversion(buf, path);
}

/** Reads only the header of an inversion file: cheap checks before any model loads. */
export async function readInversionHeader(path: string): Promise<InversionHeader> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `Inversion file not found: ${path}` : `Cannot read ${path}: ${err.message}`);
  });
  try {
    const head = Buffer.alloc(12);
    await fh.read(head, 0, 12, 0);
    const length = head.toString('latin1', 0, 8) === MAGIC ? head.readUInt32LE(8) : 0;
    const buf = Buffer.alloc(12 + length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return decodeHeader(buf.subarray(0, bytesRead), path).header;
  } finally {
    await fh.close();
  }
}
