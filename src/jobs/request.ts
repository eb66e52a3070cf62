/**
 * What each task takes, as one camelCase object per command (every flag of `flowedit <command>`
 * by its camelCase name), and the checks a value typed on the command line gets while it is
 * parsed: here they are made again for callers that never went through the flag parser.
 */
import { checkRange, isValid, unknownChoice } from '../settings/check.js';
import { flagOf, SETTINGS, type RangedName, type SettingName, type SettingSpec } from '../settings/table.js';
import type { MaskedTask } from '../settings/tasks.js';
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

const TEXTS = ['model', 'device', 'ffmpeg', 'preset', 'output', 'input', 'mask', 'sourcePrompt', 'targetPrompt', 'negativePrompt', 'prompt', 'saveInversion', 'saveMask'];

const usage = (message: string) => new UserError(message, EXIT.usage);

const BOOLEANS = ['force', 'invertMask'];

const shownValue = (v: unknown) => JSON.stringify(v) ?? String(v);

/**
 * The checks the flag parser makes, made on a request: ranged numbers, the named choices, the
 * kinds of the text and boolean options, and the required ones (`required`). Refused values are
 * usage errors (exit 2), in the words the command line uses.
 */
export function checkRequest(r: object, required: readonly string[] = []): void {
  const values = r as Record<string, unknown>;
  for (const key of required) {
    if (values[key] === undefined) throw usage(`Missing required argument: ${flagOf(key)}`);
  }
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const setting: SettingSpec | undefined = Object.hasOwn(SETTINGS, key) ? SETTINGS[key as SettingName] : undefined;
    if (setting?.kind === 'number') {
      try {
        checkRange(key as RangedName, value);
      } catch (err) {
        throw usage((err as Error).message);
      }
    } else if (setting?.kind === 'choice') {
      if (!isValid(key as SettingName, value)) throw usage(unknownChoice(key as SettingName, value));
    } else if (setting?.kind === 'boolean' || BOOLEANS.includes(key)) {
      if (typeof value !== 'boolean') throw usage(`Expected true or false for --${flagOf(key)} but received ${shownValue(value)}`);
    } else if (TEXTS.includes(key) && typeof value !== 'string') {
      throw usage(`Expected text for --${flagOf(key)} but received ${shownValue(value)}`);
    }
  }
}

/** The swap task a checked request names (default swap). */
export function maskedTaskOf(r: Pick<SwapRequest, 'task'>): MaskedTask {
  return (r.task ?? 'swap') as MaskedTask;
}
