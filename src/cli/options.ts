/** Typed option groups shared by the commands (declarations only); each setting's flag is built from the table of settings. */
import type { Argv, Options } from 'yargs';
import { checkRange, isValid, unknownChoice } from '../settings/check.js';
import { describeRange } from '../settings/ranges.js';
import { helpOf, SETTINGS, type FlagCommand, type RangedName, type SettingName, type SettingSpec } from '../settings/table.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../media/limits.js';
import { DEVICE_ENV, DEVICES } from '../model/devices.js';
import { EXIT, UserError } from './errors.js';
import { PROGRESS_CHOICES, type ProgressChoice } from './progress/reporter.js';

/**
 * A setting's flag, from the table of settings: its help (`command`'s own where the table has
 * one), a number's range stated in --help and checked as the command line is parsed, on the text
 * the user typed (so `--steps abc` is reported as "abc", not as a parsed NaN), a choice's choices.
 * `extra` adds the command's wiring: group, alias, default, hidden.
 */
export function settingOption(name: SettingName, command?: FlagCommand, extra: Omit<Options, 'type' | 'coerce' | 'describe' | 'choices'> = {}): Options {
  const s: SettingSpec = SETTINGS[name];
  const help = helpOf(name, command);
  switch (s.kind) {
    case 'number':
      return { ...extra, requiresArg: true, describe: `${help} [${describeRange(s.range!)}]`, coerce: (raw: unknown) => parseNumberFlag(name as RangedName, raw) };
    case 'choice':
      return {
        ...extra,
        type: 'string',
        choices: s.choices!,
        describe: help,
        coerce: (v: string) => {
          if (!isValid(name, v)) throw new UserError(unknownChoice(name, v), EXIT.usage);
          return v;
        },
      };
    case 'boolean':
      return { ...extra, type: 'boolean', describe: help };
    case 'layers':
      return { ...extra, type: 'string', describe: help };
  }
}

/** Parses a numeric flag's text against its range; a bad value is a usage error (exit 2). */
export function parseNumberFlag(name: RangedName, raw: unknown): number {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  const value = typeof text === 'number' ? text : typeof text === 'string' && text !== '' ? Number(text) : NaN;
  try {
    const shown = typeof raw !== 'string' ? String(raw) : raw === '' || /\s/.test(raw) ? JSON.stringify(raw) : raw;
    return checkRange(name, value, shown);
  } catch (err) {
    throw new UserError((err as Error).message, EXIT.usage);
  }
}

export interface GlobalArgs {
  verbose: boolean;
  quiet: boolean;
  /** --progress (absent: auto, or none with --quiet) */
  progress: ProgressChoice | undefined;
}

/** --progress: how progress is shown on stderr (every command). */
export const progressOption = {
  type: 'string',
  choices: PROGRESS_CHOICES,
  describe: 'progress on stderr: auto (a bar on a terminal, a plain line every 10 s elsewhere; none with --quiet), plain, json (JSON Lines events, see docs/commands.md) or none',
} as const;

/** --json: one JSON object on stdout at the end (outputs, settings, timings, model calls), or {error, exitCode} on failure. */
export function withJsonOption<T>(y: Argv<T>): Argv<T & { json: boolean }> {
  return y.option('json', {
    type: 'boolean',
    default: false,
    describe: 'print one JSON object on stdout at the end: outputs, settings, timings and model calls (on failure: {error, exitCode}); nothing else goes to stdout',
  }) as Argv<T & { json: boolean }>;
}

export interface ModelArgs {
  model: string | undefined;
  threads: number | undefined;
  device: string | undefined;
}

export function withModelOptions<T>(y: Argv<T>): Argv<T & ModelArgs> {
  return y
    .option('model', { type: 'string', describe: 'model pack: a folder, or the name of one in the configuration folder\'s packs/ ($FLOWEDIT_HOME) or of a built-in pack (default: the built-in pack)', group: 'Model:' })
    .option('threads', settingOption('threads', undefined, { group: 'Model:' }))
    .option('device', {
      type: 'string',
      requiresArg: true,
      describe: `where the model runs: ${DEVICES.join(', ')} (default: $${DEVICE_ENV}, else cpu); a provider this install lacks is an error, never a fallback`,
      group: 'Model:',
    }) as Argv<T & ModelArgs>;
}

export interface SolverArgs {
  steps: number | undefined;
  solver: string | undefined;
  fit: string | undefined;
  seed: number | undefined;
}

export function withSolverOptions<T>(y: Argv<T>): Argv<T & SolverArgs> {
  return y
    .option('steps', settingOption('steps', undefined, { group: 'Sampling:' }))
    .option('solver', settingOption('solver', undefined, { group: 'Sampling:' }))
    .option('fit', settingOption('fit', undefined, { group: 'Sampling:' }))
    .option('seed', settingOption('seed', undefined, { group: 'Sampling:' })) as Argv<T & SolverArgs>;
}

export interface EditArgs {
  guidance: number | undefined;
  'guide-against': string | undefined;
  'share-layers': string | undefined;
  'share-steps': number | undefined;
  'share-text': boolean | undefined;
  'auto-mask': number | undefined;
}

export interface ShiftArgs {
  shift: number | undefined;
}

/** --shift: a static schedule shift σ replacing the pack's schedule. */
export function withShiftOption<T>(y: Argv<T>): Argv<T & ShiftArgs> {
  return y.option('shift', settingOption('shift', undefined, { group: 'Sampling:' })) as Argv<T & ShiftArgs>;
}

export interface NegativePromptArgs {
  'negative-prompt': string | undefined;
}

/** --negative-prompt: the prompt classifier-free guidance steers away from. */
export function withNegativePrompt<T>(y: Argv<T>, what: string): Argv<T & NegativePromptArgs> {
  return y.option('negative-prompt', {
    type: 'string',
    describe: `a prompt for the guidance to steer away from, ${what} (default: the pack's text.negativePrompt, else the empty prompt)`,
    group: 'Editing:',
  }) as Argv<T & NegativePromptArgs>;
}

/** Which command the editing options serve: their help names only what that command takes. */
export type EditOptionsFor = 'edit' | 'swap' | 'batch';

/** --guidance, --guide-against, --share-layers, --share-steps, and for edit and batch --auto-mask. */
export function withEditOptions<T>(y: Argv<T>, command: EditOptionsFor): Argv<T & EditArgs> {
  const z = y
    .option('guidance', settingOption('guidance', command, { group: 'Editing:' }))
    .option('guide-against', settingOption('guideAgainst', command, { group: 'Editing:' }))
    .option('share-layers', settingOption('shareLayers', command, { group: 'Editing:' }))
    .option('share-steps', settingOption('shareSteps', command, { group: 'Editing:' }))
    .option('share-text', settingOption('shareText', command, { group: 'Editing:' }));
  if (command === 'swap') return z as Argv<T & EditArgs>;
  return z.option('auto-mask', settingOption('autoMask', command, { group: 'Editing:' })) as Argv<T & EditArgs>;
}

export interface OutputArgs {
  output: string;
  force: boolean;
}

/** -o and --force: an existing file is replaced only with --force. */
export function withOutput<T>(y: Argv<T>, what: string): Argv<T & OutputArgs> {
  return y
    .option('output', { alias: 'o', type: 'string', demandOption: true, describe: what })
    .option('force', {
      type: 'boolean',
      default: false,
      describe: 'replace output files that already exist (without it, an existing output is refused); an input is never overwritten',
    }) as Argv<T & OutputArgs>;
}

export interface InputLimitArgs {
  'max-input-pixels': number;
}

/** --max-input-pixels: the largest image or frame a command reads, checked before decoding. */
export function withInputLimit<T>(y: Argv<T>): Argv<T & InputLimitArgs> {
  return y.option('max-input-pixels', settingOption('maxInputPixels', undefined, { default: DEFAULT_MAX_INPUT_PIXELS, group: 'Model:' })) as Argv<T & InputLimitArgs>;
}

export { parseLayerList } from '../jobs/layer-list.js';

export interface VideoArgs {
  ffmpeg: string | undefined;
  overlap: number | undefined;
  window: number | undefined;
}

/** --ffmpeg alone (batch takes it without --overlap). */
export function withFfmpegOption<T>(y: Argv<T>): Argv<T & Pick<VideoArgs, 'ffmpeg'>> {
  return y.option('ffmpeg', {
    type: 'string',
    describe: 'ffmpeg binary for clips, used alone when given (default: $FLOWEDIT_FFMPEG, then ffmpeg on PATH, then the one shipped with the npm package); ffprobe is taken from beside it',
    group: 'Video:',
  }) as Argv<T & Pick<VideoArgs, 'ffmpeg'>>;
}

export function withVideoOptions<T>(y: Argv<T>): Argv<T & VideoArgs> {
  return withFfmpegOption(y)
    .option('overlap', settingOption('overlap', undefined, { group: 'Video:' }))
    .option('window', settingOption('window', undefined, { group: 'Video:' })) as Argv<T & VideoArgs>;
}

export interface MaskArgs {
  /** required by swap, which checks it itself (so a swap preset can say it needs one) */
  mask: string | undefined;
  'mask-grow': number | undefined;
  'mask-feather': number | undefined;
  'invert-mask': boolean;
  'mask-bias': number | undefined;
}

export function withMaskOptions<T>(y: Argv<T>): Argv<T & MaskArgs> {
  return y
    .option('mask', {
      type: 'string',
      describe: 'required: what to replace, white = edit: one image (used for every frame), a folder of per-frame PNGs, or a mask video',
      group: 'Mask:',
    })
    .option('mask-grow', settingOption('maskGrow', 'swap', { group: 'Mask:' }))
    .option('mask-feather', settingOption('maskFeather', 'swap', { group: 'Mask:' }))
    .option('invert-mask', { type: 'boolean', default: false, describe: 'edit what is black instead of what is white', group: 'Mask:' })
    .option('mask-bias', settingOption('maskBias', 'swap', { group: 'Mask:' })) as Argv<T & MaskArgs>;
}

export interface PresetArgs {
  preset: string | undefined;
  'print-config': boolean;
}

/** --preset and --print-config: one call opts a command into presets. */
export function withPresetOptions<T>(y: Argv<T>): Argv<T & PresetArgs> {
  return y
    .option('preset', {
      type: 'string',
      describe: 'a named recipe (flowedit presets list) or a .yaml file; flags given here override its values',
      group: 'Presets:',
    })
    .option('print-config', {
      type: 'boolean',
      default: false,
      describe: 'print the resolved settings (defaults < pack < preset < flags) and exit without running',
      group: 'Presets:',
    }) as Argv<T & PresetArgs>;
}

export interface VariantsArgs {
  variants: number | undefined;
}

/**
 * --variants: generate writes N outputs with consecutive seeds. Edit and swap declare it hidden
 * only to refuse it in their own words: they start from the inverted source, which no seed changes.
 */
export function withVariantsOption<T>(y: Argv<T>, command: 'generate' | 'edit' | 'swap'): Argv<T & VariantsArgs> {
  const z = y.option('variants', settingOption('variants', command, { group: 'Sampling:', hidden: command !== 'generate' })) as Argv<T & VariantsArgs>;
  if (command === 'generate') return z;
  return z.check((argv) => {
    if (argv.variants === undefined) return true;
    throw new UserError(
      `--variants applies to flowedit generate: ${command} starts from the inverted source, not from seeded noise, so every variant would be the same image; vary --target-prompt, --guidance or --share-steps instead`,
      EXIT.usage,
    );
  });
}

export interface RecordPathsArgs {
  'record-paths': boolean;
}

/** --record-paths: the output records its source's (and mask's) full path instead of the file name. */
export function withRecordPaths<T>(y: Argv<T>): Argv<T & RecordPathsArgs> {
  return y.option('record-paths', {
    type: 'boolean',
    default: false,
    describe: "record the source's (and a mask's) full path in the output's settings, instead of only its file name",
  }) as Argv<T & RecordPathsArgs>;
}
