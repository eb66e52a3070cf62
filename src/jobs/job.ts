/** A job: what a command or the library asks an inference worker to run, and its summary. */
import type { GenerateSettings } from '../edit/frames/generate.js';
import type { Settings } from '../edit/frames/settings.js';
import type { MaskOptions } from '../media/mask.js';
import type { Device } from '../model/devices.js';
import type { Variant } from '../edit/frames/seeds.js';

interface JobBase {
  readonly packDir: string;
  readonly output: string;
  readonly threads?: number;
  /** where the model runs (--device; absent: cpu) */
  readonly device?: Device;
  /** explicit ffmpeg binary (--ffmpeg) */
  readonly ffmpeg?: string;
  /** window overlap for long clips (--overlap) */
  readonly overlap?: number;
  /** most frames in one pass for long clips (--window) */
  readonly window?: number;
  /** largest image or frame (width × height) read (--max-input-pixels; default DEFAULT_MAX_INPUT_PIXELS) */
  readonly maxInputPixels?: number;
  /** what an output's record names as its source (absent: the path read; null: none), for inputs handed over as bytes */
  readonly sourceName?: string | null;
  /** the output records its source's full path, not only its file name (--record-paths) */
  readonly recordPaths?: boolean;
}

export type JobSpec =
  | (JobBase & {
      readonly kind: 'invert';
      readonly input: string;
      /** the input is a clip (absent: a still) */
      readonly inputIsVideo?: boolean;
      readonly sourcePrompt: string;
      readonly settings: Settings;
    })
  | (JobBase & {
      readonly kind: 'reconstruct';
      /** an inversion file, or with `from` an image or a clip inverted first */
      readonly input: string;
      readonly seed: number;
      /** the input is an image or a clip: inverted first with these (a batch item's reconstruction) */
      readonly from?: { readonly inputIsVideo: boolean; readonly sourcePrompt: string; readonly settings: Settings };
    })
  | (JobBase & {
      readonly kind: 'edit';
      /** an image, or an inversion file to reuse */
      readonly input: string;
      readonly inputIsInversion: boolean;
      /** the input is a clip (absent: a still or an inversion file) */
      readonly inputIsVideo?: boolean;
      readonly sourcePrompt: string;
      readonly targetPrompt: string;
      readonly settings: Settings;
      /** where to also save the inversion made from an image input */
      readonly saveInversion?: string;
      /** where to also save the automatic mask as applied (PNG for a still, a video for a clip) */
      readonly saveMask?: string;
    })
  | (JobBase & {
      readonly kind: 'swap';
      /** an image or a clip, or an inversion file of one */
      readonly input: string;
      readonly inputIsInversion: boolean;
      /** the input, or the inversion's source, is a clip */
      readonly inputIsVideo: boolean;
      readonly mask: string;
      readonly maskOptions: MaskOptions;
      readonly sourcePrompt: string;
      readonly targetPrompt: string;
      /** --negative-prompt, when given */
      readonly negativePrompt?: string;
      readonly settings: Settings;
    })
  | (JobBase & {
      readonly kind: 'generate';
      readonly request: GenerateSettings;
      readonly fps: number;
      /** --variants: one output per seed, from one model load (then `output` and the request's seed are unused) */
      readonly variants?: readonly Variant[];
    });

/**
 * One output of a job: the file it writes, and what sets it apart from the job's other outputs
 * (an edit's or a swap's target prompt, a generated variant's seed). A command's job has one,
 * taken from the spec; a batch item's job has one per pending output, all made from one source.
 */
export interface JobTarget {
  readonly output: string;
  readonly targetPrompt?: string;
  readonly seed?: number;
}

export interface JobSummary {
  readonly output: string;
  readonly seconds: number;
  readonly calls: number;
  /** of `seconds`, those spent waiting for the model pack to load (a pack preloaded during the checks: what was left of its load) */
  readonly loadSeconds?: number;
}
