/**
 * What each task takes, as one camelCase object per command (every flag of `flowedit <command>`
 * by its camelCase name), and the checks a value typed on the command line gets while it is
 * parsed: here they are made again for callers that never went through the flag parser.
 */
import { checkRange, type RangedName } from '../edit/ranges.js';
import { MASKED_TASKS, type MaskedTask } from '../edit/tasks.js';
import { GUIDE_AGAINST } from '../edit/velocity.js';
import { SOLVERS, isSolverName } from '../solvers/index.js';
import { EXIT, UserError } from './errors.js';

/** --model, --threads, --device */
export interface ModelRequest {
  /** a pack folder (default: the built-in pack) */
  readonly model?: string | undefined;
  readonly threads?: number | undefined;
  /** cpu, webgpu, cuda, dml or coreml (default: $FLOWEDIT_DEVICE, else cpu) */
  readonly device?: string | undefined;
}

/** --steps, --solver, --fit, --seed, --shift */
export interface SolverRequest {
  readonly steps?: number | undefined;
  /** euler, midpoint or fireflow */
  readonly solver?: string | undefined;
  /** pad or resize */
  readonly fit?: string | undefined;
  readonly seed?: number | undefined;
  readonly shift?: number | undefined;
}

/** --guidance, --guide-against, --share-layers, --share-steps, --share-text */
export interface SharingRequest {
  readonly guidance?: number | undefined;
  /** empty or source */
  readonly guideAgainst?: string | undefined;
  /** layer numbers, or as on the command line: "1,2" or a layer group's name */
  readonly shareLayers?: string | readonly number[] | undefined;
  readonly shareSteps?: number | undefined;
  readonly shareText?: boolean | undefined;
}

/** --ffmpeg, --overlap, --window */
export interface VideoRequest {
  readonly ffmpeg?: string | undefined;
  readonly overlap?: number | undefined;
  readonly window?: number | undefined;
}

/** -o, --force, --preset, --max-input-pixels */
export interface CommonRequest {
  readonly output: string;
  /** an existing output may be replaced (default false) */
  readonly force?: boolean | undefined;
  /** a preset's name or a .yaml file; the request's own values override it */
  readonly preset?: string | undefined;
  /** the output records its source's full path, not only its file name (default false) */
  readonly recordPaths?: boolean | undefined;
}

export interface InputLimitRequest {
  /** the largest image or frame (width × height) read (default DEFAULT_MAX_INPUT_PIXELS) */
  readonly maxInputPixels?: number | undefined;
}

export interface InvertRequest extends ModelRequest, SolverRequest, VideoRequest, CommonRequest, InputLimitRequest {
  /** an image or a clip */
  readonly input: string;
  /** caption of the input (default "") */
  readonly sourcePrompt?: string | undefined;
}

export interface ReconstructRequest extends ModelRequest, Pick<VideoRequest, 'ffmpeg'>, CommonRequest {
  /** an inversion file */
  readonly input: string;
  readonly seed?: number | undefined;
}

export interface EditRequest extends ModelRequest, SolverRequest, SharingRequest, VideoRequest, CommonRequest, InputLimitRequest {
  /** an image, a clip, or an inversion file */
  readonly input: string;
  readonly sourcePrompt?: string | undefined;
  readonly targetPrompt: string;
  readonly negativePrompt?: string | undefined;
  /** θ in [0, 1): edit only where the prompts make the model disagree (0: everywhere) */
  readonly autoMask?: number | undefined;
  /** also save the inversion made from an image or clip input here */
  readonly saveInversion?: string | undefined;
  /** also save the automatic mask as applied here */
  readonly saveMask?: string | undefined;
}

export interface SwapRequest extends ModelRequest, SolverRequest, SharingRequest, VideoRequest, CommonRequest, InputLimitRequest {
  /** an image, a clip, or an inversion file of one */
  readonly input: string;
  /** white = edit: one image, a folder of per-frame PNGs, or a mask video */
  readonly mask?: string | undefined;
  readonly maskGrow?: number | undefined;
  readonly maskFeather?: number | undefined;
  readonly maskBias?: number | undefined;
  /** edit what is black instead (default false) */
  readonly invertMask?: boolean | undefined;
  /** which task defaults apply: swap (default), recolor, insert or remove */
  readonly task?: string | undefined;
  readonly sourcePrompt?: string | undefined;
  readonly targetPrompt: string;
  readonly negativePrompt?: string | undefined;
}

export interface GenerateRequest extends ModelRequest, SolverRequest, VideoRequest, CommonRequest {
  /** what to draw (default "") */
  readonly prompt?: string | undefined;
  readonly negativePrompt?: string | undefined;
  readonly guidance?: number | undefined;
  /** 1 (default) for a still */
  readonly frames?: number | undefined;
  /** frame rate of a clip (default 8) */
  readonly fps?: number | undefined;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  /** write this many outputs with consecutive seeds from the seed (named after output: scene.png → scene-<seed>.png) */
  readonly variants?: number | undefined;
}

/** Request keys that are ranged numbers, with the flag each is checked as. */
const NUMBERS: Record<string, RangedName> = {
  steps: 'steps',
  seed: 'seed',
  shift: 'shift',
  guidance: 'guidance',
  shareSteps: 'share-steps',
  autoMask: 'auto-mask',
  maskGrow: 'mask-grow',
  maskFeather: 'mask-feather',
  maskBias: 'mask-bias',
  overlap: 'overlap',
  window: 'window',
  threads: 'threads',
  maxInputPixels: 'max-input-pixels',
  frames: 'frames',
  fps: 'fps',
  width: 'width',
  height: 'height',
  variants: 'variants',
};

const TEXTS = ['model', 'device', 'ffmpeg', 'preset', 'output', 'input', 'mask', 'sourcePrompt', 'targetPrompt', 'negativePrompt', 'prompt', 'saveInversion', 'saveMask'];

const usage = (message: string) => new UserError(message, EXIT.usage);

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The checks the flag parser makes, made on a request: ranged numbers, the named choices, the
 * kinds of the text and boolean options, and the required ones (`required`). Refused values are
 * usage errors (exit 2), in the words the command line uses.
 */
export function checkRequest(r: object, required: readonly string[] = []): void {
  const values = r as Record<string, unknown>;
  for (const key of required) {
    if (values[key] === undefined) throw usage(`Missing required argument: ${kebab(key)}`);
  }
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const name = NUMBERS[key];
    if (name !== undefined) {
      try {
        checkRange(name, value);
      } catch (err) {
        throw usage((err as Error).message);
      }
    } else if (TEXTS.includes(key) && typeof value !== 'string') {
      throw usage(`Expected text for --${kebab(key)} but received ${JSON.stringify(value) ?? String(value)}`);
    } else if ((key === 'force' || key === 'invertMask' || key === 'shareText') && typeof value !== 'boolean') {
      throw usage(`Expected true or false for --${kebab(key)} but received ${JSON.stringify(value) ?? String(value)}`);
    }
  }
  const { solver, fit, guideAgainst, task } = values;
  if (solver !== undefined && !isSolverName(String(solver))) throw usage(`Unknown solver "${String(solver)}": choose one of ${SOLVERS.join(', ')}`);
  if (fit !== undefined && fit !== 'pad' && fit !== 'resize') throw usage(`Unknown fit "${String(fit)}": choose pad or resize`);
  if (guideAgainst !== undefined && !(GUIDE_AGAINST as readonly unknown[]).includes(guideAgainst)) {
    throw usage(`Unknown value "${String(guideAgainst)}" for --guide-against: choose ${GUIDE_AGAINST.join(' or ')}`);
  }
  if (task !== undefined && !(MASKED_TASKS as readonly unknown[]).includes(task)) throw usage(`Unknown task "${String(task)}" for --task: choose one of ${MASKED_TASKS.join(', ')}`);
}

/** The swap task a checked request names (default swap). */
export function maskedTaskOf(r: Pick<SwapRequest, 'task'>): MaskedTask {
  return (r.task ?? 'swap') as MaskedTask;
}
