/**
 * flowedit as a service embeds it: one object per process that runs every command's task in a
 * pool of worker threads (the caller's event loop stays free while the model runs), checks each
 * request as the command line does, and takes images and masks as paths, encoded bytes or raw
 * frames.
 *
 *   const fe = createFlowedit({ workers: 2 });
 *   const { bytes } = await fe.edit({ input: png, sourcePrompt: 'a red circle', targetPrompt: 'a blue circle' });
 *   await fe.close();
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobSpec, JobSummary } from './jobs/job.js';
import { inputPath, resultExtension, type MediaInput } from './jobs/media-input.js';
import type { Plan } from './jobs/plan.js';
import { planEdit } from './jobs/plan-edit.js';
import { planGenerate } from './jobs/plan-generate.js';
import { planInvert } from './jobs/plan-invert.js';
import { planReconstruct } from './jobs/plan-reconstruct.js';
import { planSwap } from './jobs/plan-swap.js';
import { createPool, type JobHooks } from './jobs/pool.js';
import type { EditRequest, GenerateRequest, InvertRequest, ModelRequest, ReconstructRequest, SwapRequest, VideoRequest } from './jobs/request.js';

/** What every call runs with unless it says otherwise. */
export interface FloweditOptions extends ModelRequest, Pick<VideoRequest, 'ffmpeg'> {
  /** worker threads, each holding one job at a time (default 1) */
  readonly workers?: number;
}

/** A command's request, its inputs as paths, encoded bytes or raw frames, its output path optional. */
type Call<R, Media extends keyof R = never> = Omit<R, 'input' | 'output' | Media> & {
  readonly input: MediaInput;
  /** where to write the result (absent: the result's bytes are returned) */
  readonly output?: string | undefined;
  /** what the output's record names as its source (default: the input's path; none for bytes and raw frames) */
  readonly sourceName?: string | undefined;
} & { readonly [K in Media]?: MediaInput | undefined };

export type InvertOptions = Call<InvertRequest>;
export type ReconstructOptions = Call<ReconstructRequest>;
export type EditOptions = Call<EditRequest>;
export type SwapOptions = Call<SwapRequest, 'mask'>;
export type GenerateOptions = Omit<GenerateRequest, 'output'> & { readonly output?: string | undefined };

export interface TaskResult {
  /** the output's path, when the call gave one */
  readonly output?: string;
  /** the output's bytes (PNG, MP4 or inversion file), when the call gave no path */
  readonly bytes?: Buffer;
  /** model calls made */
  readonly calls: number;
  /** seconds the job ran in its worker (pack load included) */
  readonly seconds: number;
}

export type { JobHooks };

export interface Flowedit {
  /** how many jobs run at once */
  readonly workers: number;
  invert(options: InvertOptions, hooks?: JobHooks): Promise<TaskResult>;
  reconstruct(options: ReconstructOptions, hooks?: JobHooks): Promise<TaskResult>;
  edit(options: EditOptions, hooks?: JobHooks): Promise<TaskResult>;
  swap(options: SwapOptions, hooks?: JobHooks): Promise<TaskResult>;
  generate(options: GenerateOptions, hooks?: JobHooks): Promise<TaskResult>;
  /** lets running jobs finish, refuses queued and new ones, and stops the workers */
  close(): Promise<void>;
}

/** `over`'s values where it has one, else `base`'s (an undefined value does not override). */
function merged<T extends object>(base: object, over: T): T {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) out[k] = v;
  return out as T;
}

/**
 * A flowedit for this process: `workers` threads (default 1) run the jobs; `model`, `threads`,
 * `device` and `ffmpeg` are every call's defaults, which a call's own values override. Each call
 * is checked as its command checks it (same messages; UserError) before any work, then queued.
 */
export function createFlowedit(options: FloweditOptions = {}): Flowedit {
  const { workers, ...defaults } = options;
  const pool = createPool({ size: workers ?? 1 });

  /**
   * One call: the inputs written where a task can read them, the output named, the request
   * planned (every check the command makes), the job run in the pool, the folder removed.
   */
  async function task(
    options: { input?: MediaInput; mask?: MediaInput; output?: string | undefined; sourceName?: string | undefined },
    outputExt: (input: string | undefined) => Promise<string>,
    plan: (paths: { input?: string; mask?: string; output: string }) => Promise<Plan>,
    hooks: JobHooks,
  ): Promise<TaskResult> {
    hooks.signal?.throwIfAborted();
    const dir = await mkdtemp(join(tmpdir(), 'flowedit-job-'));
    try {
      const input = options.input === undefined ? undefined : await inputPath(options.input, dir, 'input', 'input');
      const mask = options.mask === undefined ? undefined : await inputPath(options.mask, dir, 'mask', 'mask');
      const output = options.output ?? join(dir, `output${await outputExt(input)}`);
      const planned = await plan({ ...(input !== undefined ? { input } : {}), ...(mask !== undefined ? { mask } : {}), output });
      const given = typeof options.input === 'string' || options.input === undefined;
      const sourceName = options.sourceName ?? (given ? undefined : null);
      const spec: JobSpec = sourceName === undefined ? planned.spec : { ...planned.spec, sourceName };
      const summary: JobSummary = await pool.run(spec, hooks);
      const done = { calls: summary.calls, seconds: summary.seconds };
      return options.output !== undefined ? { output: options.output, ...done } : { bytes: await readFile(output), ...done };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const media = (input: string | undefined) => (input === undefined ? Promise.resolve('.png') : resultExtension(input));
  return {
    workers: pool.size,
    invert: (o, hooks = {}) => task(o, async () => '.flowinv', (p) => planInvert(merged(defaults, { ...o, ...p }) as InvertRequest), hooks),
    reconstruct: (o, hooks = {}) => task(o, media, (p) => planReconstruct(merged(defaults, { ...o, ...p }) as ReconstructRequest), hooks),
    edit: (o, hooks = {}) => task(o, media, (p) => planEdit(merged(defaults, { ...o, ...p }) as EditRequest), hooks),
    swap: (o, hooks = {}) => task(o, media, (p) => planSwap(merged(defaults, { ...o, ...p }) as SwapRequest), hooks),
    generate: (o, hooks = {}) => task(o, async () => ((o.frames ?? 1) > 1 ? '.mp4' : '.png'), (p) => planGenerate(merged(defaults, { ...o, ...p })), hooks),
    close: () => pool.close(),
  };
}
