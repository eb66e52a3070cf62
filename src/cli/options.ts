/** Typed option groups shared by the commands (declarations only). */
import type { Argv } from 'yargs';

export interface GlobalArgs {
  verbose: boolean;
  quiet: boolean;
}

export interface ModelArgs {
  model: string | undefined;
  threads: number | undefined;
}

export function withModelOptions<T>(y: Argv<T>): Argv<T & ModelArgs> {
  return y
    .option('model', { type: 'string', describe: 'model pack folder (default: the built-in pack)', group: 'Model:' })
    .option('threads', { type: 'number', describe: 'CPU threads for inference (default: all cores)', group: 'Model:' }) as Argv<T & ModelArgs>;
}

export interface SolverArgs {
  steps: number | undefined;
  solver: string | undefined;
  fit: string | undefined;
  seed: number | undefined;
}

export function withSolverOptions<T>(y: Argv<T>): Argv<T & SolverArgs> {
  return y
    .option('steps', { type: 'number', describe: 'solver steps (default: the pack\'s, else 20)', group: 'Sampling:' })
    .option('solver', {
      type: 'string',
      describe: 'euler (1st order), midpoint (RF-Solver, 2 calls/step) or fireflow (2nd order, ~1 call/step)',
      group: 'Sampling:',
    })
    .option('fit', { type: 'string', describe: 'pad or resize inputs whose size is not a multiple the pack needs', group: 'Sampling:' })
    .option('seed', { type: 'number', describe: 'random seed, recorded in the output', group: 'Sampling:' }) as Argv<T & SolverArgs>;
}

export interface EditArgs {
  guidance: number | undefined;
  'guide-against': string | undefined;
  'share-layers': string | undefined;
  'share-steps': number | undefined;
  'auto-mask': number | undefined;
}

export function withEditOptions<T>(y: Argv<T>): Argv<T & EditArgs> {
  return y
    .option('guidance', { type: 'number', describe: 'classifier-free guidance on the edit path (1 = off)', group: 'Editing:' })
    .option('guide-against', {
      type: 'string',
      choices: ['empty', 'source'],
      describe:
        'what the guidance steers away from: "empty" (plain classifier-free guidance) or "source", the source prompt, so that what the target prompt changes is what gets amplified (give --source-prompt; default: the pack\'s, else empty)',
      group: 'Editing:',
    })
    .option('share-layers', {
      type: 'string',
      describe: 'comma-separated layers whose attention shares the reconstruction path\'s keys/values (default: the pack\'s)',
      group: 'Editing:',
    })
    .option('share-steps', {
      type: 'number',
      describe: 'fraction of the steps, from the start, that share context (0 = none, default 0.5)',
      group: 'Editing:',
    })
    .option('auto-mask', {
      type: 'number',
      describe:
        'edit only where the source and target prompts make the model disagree: θ in (0, 1) is the share of the largest disagreement a place needs to be edited (lower edits more), 0 lets the edit change every pixel (default: the pack\'s, else 0). Everything outside the estimated mask is kept exactly; the edit takes the swap defaults',
      group: 'Editing:',
    }) as Argv<T & EditArgs>;
}

export function withOutput<T>(y: Argv<T>, what: string): Argv<T & { output: string }> {
  return y.option('output', { alias: 'o', type: 'string', demandOption: true, describe: what }) as Argv<T & { output: string }>;
}

/** Parses "1,2, 3" into layer numbers; "" is the empty set. */
export function parseLayerList(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new Error(`Expected comma-separated layer numbers for --share-layers but received "${text}"`);
    return n;
  });
}

export interface VideoArgs {
  ffmpeg: string | undefined;
  overlap: number | undefined;
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
    .option('overlap', {
      type: 'number',
      describe: 'frames shared by neighbouring windows when a clip is longer than one model pass (cross-faded; default a quarter window)',
      group: 'Video:',
    }) as Argv<T & VideoArgs>;
}

export interface MaskArgs {
  mask: string;
  'mask-grow': number | undefined;
  'mask-feather': number | undefined;
  'invert-mask': boolean;
  'mask-bias': number | undefined;
}

export function withMaskOptions<T>(y: Argv<T>): Argv<T & MaskArgs> {
  return y
    .option('mask', {
      type: 'string',
      demandOption: true,
      describe: 'what to replace, white = edit: one image (used for every frame), a folder of per-frame PNGs, or a mask video',
      group: 'Mask:',
    })
    .option('mask-grow', { type: 'number', describe: 'grow the mask by this many pixels (default 2)', group: 'Mask:' })
    .option('mask-feather', { type: 'number', describe: 'soft edge this many pixels wide outside the grown mask (default 6)', group: 'Mask:' })
    .option('invert-mask', { type: 'boolean', default: false, describe: 'edit what is black instead of what is white', group: 'Mask:' })
    .option('mask-bias', {
      type: 'number',
      describe: 'attention logit bias (≤ 0) on the source\'s keys inside the mask: below 0 the edit copies less of what it replaces (-10000 = none of it; default: the pack\'s, else 0)',
      group: 'Mask:',
    }) as Argv<T & MaskArgs>;
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
