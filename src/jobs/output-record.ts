/**
 * The one record an output carries (PNG text, clip tags), built here for every task and for a
 * command and a batch item alike: the run, the prompts, the settings that made the pixels, the
 * source and how it was fitted.
 */
import type { InversionHeader } from '../edit/frames/inversion-file.js';
import type { OutputRecord } from '../edit/records/outputs.js';
import type { GenerateSettings } from '../edit/frames/generate.js';
import type { Settings } from '../edit/frames/settings.js';
import type { LoadedPack } from '../model/pack.js';
import { flowEditVersion } from '../version.js';
import type { JobSpec } from './job.js';

type Job<K extends JobSpec['kind']> = Extract<JobSpec, { kind: K }>;

/** What every output's record holds about the run itself. */
export type RecordBase = Pick<OutputRecord, 'model' | 'flowedit' | 'recordPaths'>;

export function recordBase(pack: LoadedPack, job: JobSpec): RecordBase {
  return { model: pack.manifest.id, flowedit: flowEditVersion(), ...(job.recordPaths ? { recordPaths: true } : {}) };
}

/** The settings an output records only when they differ from the pack's behaviour: shared text keys, a schedule shift. */
function settingsRecord(s: Settings): Pick<OutputRecord, 'shareText' | 'shift'> {
  return { ...(s.shareText ? { shareText: true } : {}), ...(s.shift !== undefined ? { shift: s.shift } : {}) };
}

/** The source an output's record names: the job's sourceName when it has one (null: none), else the path read. */
function sourceRecord(job: JobSpec, path: string): Pick<OutputRecord, 'source'> {
  const name = job.sourceName === undefined ? path : job.sourceName;
  return name === null ? {} : { source: name };
}

/** What an edit's and a swap's records share, in the order they are written: the run, the prompts, the guidance and the sharing. */
function editedRecord(command: 'edit' | 'swap', base: RecordBase, s: Settings, at: { steps: number; solver: string; sourcePrompt: string; targetPrompt: string; negativePrompt: string | undefined }): OutputRecord {
  return {
    ...base,
    command,
    steps: at.steps,
    solver: at.solver,
    seed: s.seed,
    sourcePrompt: at.sourcePrompt,
    targetPrompt: at.targetPrompt,
    ...(at.negativePrompt !== undefined ? { negativePrompt: at.negativePrompt } : {}),
    guidance: s.guidance,
    guideAgainst: s.guideAgainst,
    shareLayers: s.shareLayers,
    shareSteps: s.shareSteps,
    ...settingsRecord(s),
  };
}

/** An edit's output, from the inversion it edited (which fixes steps, solver and source prompt). */
export function editRecord(base: RecordBase, job: Job<'edit'>, header: InversionHeader, targetPrompt: string): OutputRecord {
  const s = job.settings;
  const { steps, solver, sourcePrompt } = header.settings;
  return {
    ...editedRecord('edit', base, s, { steps, solver, sourcePrompt, targetPrompt, negativePrompt: s.negativePrompt }),
    ...(s.autoMask > 0 ? { autoMask: s.autoMask } : {}),
    ...sourceRecord(job, header.source.path),
    fit: header.fit.mode,
  };
}

/** A swap's output: its source (the input, or the inversion's source), the mask and how it was shaped. */
export function swapRecord(base: RecordBase, job: Job<'swap'>, source: string, fit: string, targetPrompt: string): OutputRecord {
  const s = job.settings;
  const m = job.maskOptions;
  return {
    ...editedRecord('swap', base, s, { steps: s.steps, solver: s.solver, sourcePrompt: job.sourcePrompt, targetPrompt, negativePrompt: job.negativePrompt }),
    ...sourceRecord(job, source),
    fit,
    mask: job.mask,
    maskGrow: m.grow,
    maskFeather: m.feather,
    maskBias: s.maskBias,
    ...(m.invert ? { invertMask: true } : {}),
  };
}

/** A reconstruction's output: the inversion's own prompt, solver and schedule. */
export function reconstructRecord(base: RecordBase, job: Job<'reconstruct'>, header: InversionHeader): OutputRecord {
  const { steps, solver, sourcePrompt, shift } = header.settings;
  return { ...base, command: 'reconstruct', steps, solver, seed: job.seed, prompt: sourcePrompt, ...(shift !== undefined ? { shift } : {}), fit: header.fit.mode, ...sourceRecord(job, header.source.path) };
}

/** A generated still's or clip's output. */
export function generateRecord(base: RecordBase, r: GenerateSettings): OutputRecord {
  return {
    ...base,
    command: 'generate',
    steps: r.steps,
    solver: r.solver,
    seed: r.seed,
    prompt: r.prompt,
    ...(r.negativePrompt !== undefined ? { negativePrompt: r.negativePrompt } : {}),
    guidance: r.guidance,
    ...(r.shift !== undefined ? { shift: r.shift } : {}),
    ...(r.frames > 1 ? { frames: r.frames } : {}),
  };
}
