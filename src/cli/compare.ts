/** --compare FILE: a PNG of the source next to the result (and the mask), made after the command's output. */
import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeComparison, type Comparison } from '../media/compare.js';
import { findFfmpeg } from '../media/ffmpeg-tools.js';
import { isVideoPath } from '../media/video.js';
import { readInversionHeader } from '../edit/frames/inversion-file.js';
import { checkWriteTargets } from '../jobs/checks.js';
import type { JobSpec } from '../jobs/job.js';
import { UserError } from './errors.js';
import { checkOutput, userCheck } from './actions/common.js';
import type { CompareArgs } from './compare-option.js';
import type { RunSummary } from './progress/result.js';

export type { CompareArgs };

/** A job with its --compare picture planned: the job to run (an automatic mask saved for the picture), and what writes the picture after it. */
export interface PlannedCompare {
  readonly spec: JobSpec;
  /** a file the job writes only for the picture (removed once it is made) */
  readonly temporary?: string;
  /** writes the picture, once the job has written its output */
  write(): Promise<void>;
  /** removes what the job wrote only for the picture, when the job failed */
  discard(): Promise<void>;
}

/** The run's outputs as the result reports them: the picture in, a mask made only for it out. */
export function withCompare(summary: RunSummary, a: CompareArgs, c: PlannedCompare): RunSummary {
  if (a.compare === undefined) return summary;
  return { ...summary, outputs: [...summary.outputs.filter((o) => o !== c.temporary), a.compare] };
}

/**
 * Before any work: --compare's file checked against the job's inputs and outputs, and the source
 * it shows readable; an edit with an automatic mask saves that mask for the picture.
 */
export async function planCompare(a: CompareArgs & { force?: boolean | undefined; ffmpeg?: string | undefined }, spec: JobSpec): Promise<PlannedCompare> {
  const none = async () => {};
  if (a.compare === undefined || spec.kind === 'invert' || spec.kind === 'generate') return { spec, write: none, discard: none };
  const fromInversion = spec.kind === 'reconstruct' || spec.inputIsInversion;
  const header = fromInversion ? await userCheck(() => readInversionHeader(spec.input)) : null;
  const source = header ? header.source.path : spec.input;
  await checkWriteTargets({
    outputs: [{ path: spec.output, flag: '-o' }, ...compareTarget(a)],
    inputs: [{ path: spec.input, what: 'the input' }, { path: source, what: 'the source' }, ...(spec.kind === 'swap' ? [{ path: spec.mask, what: 'the mask' }] : [])],
    force: a.force ?? false,
  });
  await checkCompare(a, source);
  if (spec.kind === 'reconstruct') return { spec, write: () => writeCompare(a, { source, result: spec.output, label: 'reconstruction' }), discard: none };
  if (spec.kind === 'swap') return { spec, write: () => writeCompare(a, { source, result: spec.output, label: 'swap', mask: { path: spec.mask, shape: spec.maskOptions } }), discard: none };
  const video = header ? header.clip !== undefined : spec.inputIsVideo === true;
  const maskFile = compareMaskFile(a, spec.settings.autoMask > 0, spec.saveMask, video);
  const temporary = maskFile !== spec.saveMask ? maskFile : undefined;
  return {
    spec: maskFile !== undefined ? { ...spec, saveMask: maskFile } : spec,
    ...(temporary !== undefined ? { temporary } : {}),
    write: () => writeCompare(a, { source, result: spec.output, label: 'edit', ...(maskFile ? { mask: { path: maskFile } } : {}) }, temporary),
    discard: async () => {
      if (temporary !== undefined) await rm(temporary, { force: true });
    },
  };
}

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
export async function writeCompare(a: CompareArgs & { ffmpeg?: string | undefined }, c: Omit<Comparison, 'tools'>, temporary?: string): Promise<void> {
  if (a.compare === undefined) return;
  try {
    const clips = [c.source, c.result, c.mask?.path ?? ''].some(isVideoPath);
    const tools = clips ? await userCheck(() => findFfmpeg(a.ffmpeg)) : undefined;
    await writeComparison(a.compare, { ...c, ...(tools ? { tools } : {}) });
  } finally {
    if (temporary !== undefined) await rm(temporary, { force: true });
  }
}
