/** --compare FILE: a PNG of the source next to the result (and the mask), made after the command's output. */
import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeComparison, type Comparison } from '../media/compare.js';
import { findFfmpeg } from '../media/ffmpeg-tools.js';
import { isVideoPath } from '../media/video.js';
import { UserError } from './errors.js';
import { checkOutput, userCheck } from './actions/common.js';
import type { CompareArgs } from './compare-option.js';

export type { CompareArgs };


/** --compare among the outputs a command checks before work (its own name, --force, never an input). */
export function compareTarget(a: CompareArgs): { path: string; flag: string }[] {
  return a.compare !== undefined ? [{ path: a.compare, flag: '--compare' }] : [];
}

/** Before any work: the picture's name is a PNG that can be written, and the source it shows can be read. */
export async function checkCompare(a: CompareArgs, source: string): Promise<void> {
  if (a.compare === undefined) return;
  if (!/\.png$/i.test(a.compare)) throw new UserError(`--compare writes a PNG (for a clip, of its middle frame): name it ${a.compare.replace(/\.[^./]*$/, '')}.png`);
  await checkOutput(a.compare);
  if (!(await stat(source).catch(() => null))?.isFile()) {
    throw new UserError(`--compare shows the source next to the result, but ${source} cannot be read: put it back where it was inverted from, or leave --compare out`);
  }
}

/**
 * Where an edit saves its automatic mask for --compare to show: --save-mask's file when given,
 * else a temporary file (a PNG, or a video for a clip) that writeCompare removes; none without
 * --compare or an automatic mask.
 */
export function compareMaskFile(a: CompareArgs, autoMask: boolean, saveMask: string | undefined, video: boolean): string | undefined {
  if (saveMask !== undefined || a.compare === undefined || !autoMask) return saveMask;
  return join(tmpdir(), `flowedit-compare-mask-${randomUUID()}${video ? '.mp4' : '.png'}`);
}

/** Writes the picture once the output is there; `temporary` (a mask made only for it) is removed after. */
export async function writeCompare(a: CompareArgs & { quiet: boolean; ffmpeg?: string | undefined }, c: Omit<Comparison, 'tools'>, temporary?: string): Promise<void> {
  if (a.compare === undefined) return;
  try {
    const clips = [c.source, c.result, c.mask?.path ?? ''].some(isVideoPath);
    const tools = clips ? await userCheck(() => findFfmpeg(a.ffmpeg)) : undefined;
    await writeComparison(a.compare, { ...c, ...(tools ? { tools } : {}) });
  } finally {
    if (temporary !== undefined) await rm(temporary, { force: true });
  }
  if (!a.quiet) process.stderr.write(`wrote ${a.compare}\n`);
}
