/**
 * The inversion file: everything a later reconstruct or edit needs to reuse one inversion.
 *
 * Layout (little-endian):
 *   bytes 0-7    magic "FLOWINV1"
 *   bytes 8-11   uint32 header length h
 *   bytes 12…    UTF-8 JSON header (InversionHeader), zero-padded to a multiple of 4 bytes
 *   then         float32 trajectory: (steps + 1) latents of the header's latentShape, from the
 *                source latent (t = 0) to the final noise (t = 1)
 */
import { open, readFile } from 'node:fs/promises';
import type { FitPlan } from '../media/fit.js';
import { sizeOf } from '../media/tensor.js';
import type { InvertSettings, LatentInversion } from './invert.js';

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
}

export interface InversionFile {
  readonly header: InversionHeader;
  readonly inversion: LatentInversion;
}

export function encodeInversion(header: InversionHeader, trajectory: readonly Float32Array[]): Buffer {
  const n = sizeOf(header.latentShape);
  if (trajectory.length !== header.ts.length || trajectory.some((x) => x.length !== n)) {
    throw new Error(`Trajectory must hold ${header.ts.length} latents of ${n} values`);
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
  const count = header.ts.length;
  if (buf.length !== headerEnd + count * n * 4) throw bad(path, `expected ${count} latents of ${n} values, file size ${buf.length} does not match`);
  const trajectory: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const start = headerEnd + i * n * 4;
    trajectory.push(new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + n * 4)));
  }
  return {
    header,
    inversion: { settings: header.settings, ts: header.ts, latentShape: header.latentShape, trajectory, calls: header.calls },
  };
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
