/**
 * The table of settings: every value a user may set, once. For each, its kind, range or choices,
 * flowedit's default where it has one, the help text, the commands that take it as a flag (its
 * kebab-case name) and the other places it may be set: a preset, a batch manifest item, a pack's
 * defaults, a pack's task defaults. The flags, the preset, manifest, request and pack checks and
 * the JSON Schemas of presets and manifests are all built from it. No imports, so anything
 * (--help included) can load it.
 */
import type { NumberRange } from './ranges.js';

/** Commands that take flags. */
export type FlagCommand = 'invert' | 'reconstruct' | 'edit' | 'swap' | 'generate' | 'batch' | 'layers' | 'presets';

/** Where else than a flag a setting may be given. */
export type Place = 'preset' | 'item' | 'pack' | 'packTask';

export interface SettingSpec {
  /** a number (its range says whether an integer), true or false, one of `choices`, or a layer list or group name */
  readonly kind: 'number' | 'boolean' | 'choice' | 'layers';
  readonly range?: NumberRange;
  readonly choices?: readonly string[];
  /** how a refused choice is named: `Unknown <noun> "x": choose …` (default: the flag) */
  readonly noun?: string;
  /** flowedit's own default, below the pack's; absent: none (the pack's or the input's) */
  readonly default?: number | string | boolean;
  readonly help: string;
  /** a command's own help text for the flag */
  readonly helpFor?: Partial<Record<FlagCommand, string>>;
  /** what values mean, added to what a preset or item check expected, e.g. "1 = off" */
  readonly note?: string;
  /** the commands that take it as a flag */
  readonly flags: readonly FlagCommand[];
  readonly places: readonly Place[];
}

const SAMPLING: readonly FlagCommand[] = ['invert', 'edit', 'swap', 'generate', 'batch', 'layers'];
const EDITING: readonly FlagCommand[] = ['edit', 'swap', 'batch'];
const RECIPE: readonly Place[] = ['preset', 'item'];

/** The commands a preset or manifest item may name (generate is declared so presets can name it ahead). */
export const RECIPE_COMMANDS = ['invert', 'reconstruct', 'edit', 'swap', 'generate'] as const;
export type RecipeCommand = (typeof RECIPE_COMMANDS)[number];

/** A layer group's name (the pack's transformer.layerGroups, or `all`). */
export const GROUP_NAME = /^[a-z][a-z0-9-]*$/;

export const SETTINGS = {
  command: {
    kind: 'choice',
    choices: RECIPE_COMMANDS,
    help: 'the command the recipe is for; a preset naming another command is refused',
    flags: [],
    places: RECIPE,
  },
  steps: {
    kind: 'number',
    range: { integer: true, min: 1, max: 1000 },
    default: 20,
    help: "solver steps (default: the pack's, else 20)",
    flags: SAMPLING,
    places: [...RECIPE, 'pack'],
  },
  solver: {
    kind: 'choice',
    choices: ['euler', 'midpoint', 'fireflow'],
    noun: 'solver',
    default: 'fireflow',
    help: 'euler (1st order), midpoint (RF-Solver, 2 calls/step) or fireflow (2nd order, ~1 call/step)',
    flags: SAMPLING,
    places: [...RECIPE, 'pack'],
  },
  fit: {
    kind: 'choice',
    choices: ['pad', 'resize'],
    noun: 'fit',
    default: 'pad',
    help: 'pad or resize inputs whose size is not a multiple the pack needs',
    flags: SAMPLING,
    places: [...RECIPE, 'pack'],
  },
  seed: {
    kind: 'number',
    range: { integer: true, min: -1, max: 2 ** 32 - 1 },
    default: 0,
    help: 'random seed, recorded in the output; -1 draws one at random (default 0)',
    helpFor: {
      reconstruct: "recorded in the output (default: the preset's, else 0)",
      batch: "batch seed: each item's seed is derived from it and the item id (default 0)",
    },
    note: '-1 draws one at random',
    flags: [...SAMPLING, 'reconstruct'],
    places: RECIPE,
  },
  shift: {
    kind: 'number',
    range: { integer: false, min: 0, max: 100, minOpen: true },
    help: "static schedule shift σ: each time t becomes σt / (1 + (σ − 1)t), replacing the pack's schedule (1 = no shift; default: the pack's)",
    note: '1 = no shift',
    flags: ['invert', 'edit', 'swap', 'generate', 'batch'],
    places: RECIPE,
  },
  guidance: {
    kind: 'number',
    range: { integer: false, min: 0, max: 100, minOpen: true },
    default: 3,
    help: "classifier-free guidance on the edit path (1 = off; default: the pack's, else 3)",
    helpFor: { generate: "classifier-free guidance (1 = off; default: the pack's, else 3)" },
    note: '1 = off',
    flags: [...EDITING, 'generate'],
    places: [...RECIPE, 'pack', 'packTask'],
  },
  guideAgainst: {
    kind: 'choice',
    choices: ['empty', 'source'],
    noun: '--guide-against',
    default: 'empty',
    help: 'what the guidance steers away from: "empty" (plain classifier-free guidance) or "source", the source prompt, so that what the target prompt changes is what gets amplified (give --source-prompt; default: the pack\'s, else empty)',
    helpFor: {
      batch: 'what the guidance steers away from: "empty" (plain classifier-free guidance) or "source", the source prompt, so that what the target prompt changes is what gets amplified (the items need a sourcePrompt; default: the pack\'s, else empty)',
    },
    flags: EDITING,
    places: [...RECIPE, 'pack', 'packTask'],
  },
  shareLayers: {
    kind: 'layers',
    help: "comma-separated layers whose attention shares the reconstruction path's keys/values, or a layer group the pack names (transformer.layerGroups, e.g. single; all = every context layer) (default: the pack's)",
    flags: EDITING,
    places: [...RECIPE, 'pack', 'packTask'],
  },
  shareSteps: {
    kind: 'number',
    range: { integer: false, min: 0, max: 1 },
    default: 0.5,
    help: "fraction of the steps, from the start, that share context (0 = none; default: the pack's, else 0.5)",
    helpFor: { layers: "τ: fraction of the steps that share, for the probes and the chosen set (default: the task's)" },
    flags: [...EDITING, 'layers'],
    places: [...RECIPE, 'pack', 'packTask'],
  },
  shareText: {
    kind: 'boolean',
    default: false,
    help: "the shared context also holds the reconstruction path's text keys (packs whose text sits in self-attention); --no-share-text leaves them out (default: the pack's defaults.shareText, else off)",
    flags: EDITING,
    places: [...RECIPE, 'pack'],
  },
  autoMask: {
    kind: 'number',
    range: { integer: false, min: 0, max: 1, maxOpen: true },
    default: 0,
    help: "edit only where the source and target prompts make the model disagree: θ above 0 is the share of the largest disagreement a place needs to be edited (lower edits more), 0 lets the edit change every pixel (default: the pack's, else 0). Everything outside the estimated mask is kept exactly; the edit takes the swap defaults",
    helpFor: {
      batch: "edit items: edit only where the source and target prompts make the model disagree: θ above 0 is the share of the largest disagreement a place needs to be edited (lower edits more), 0 lets the edit change every pixel (default: the pack's, else 0). Everything outside the estimated mask is kept exactly; the edit takes the swap defaults",
    },
    note: '0 = no automatic mask',
    flags: ['edit', 'batch'],
    places: [...RECIPE, 'packTask'],
  },
  task: {
    kind: 'choice',
    choices: ['swap', 'recolor', 'insert', 'remove'],
    noun: 'task',
    default: 'swap',
    help: "which of the pack's task defaults apply (guidance, layer set, sharing range, mask bias): swap replaces an object, recolor changes its colour, insert adds one where the mask is, remove leaves background there; each falls back to swap's (flowedit layers measures them)",
    flags: ['swap'],
    places: [],
  },
  maskGrow: {
    kind: 'number',
    range: { integer: false, min: 0, max: 1000 },
    default: 2,
    help: 'grow the mask by this many pixels (default 2)',
    note: 'pixels',
    flags: ['swap'],
    places: RECIPE,
  },
  maskFeather: {
    kind: 'number',
    range: { integer: false, min: 0, max: 1000 },
    default: 6,
    help: 'soft edge this many pixels wide outside the grown mask (default 6)',
    note: 'pixels',
    flags: ['swap'],
    places: RECIPE,
  },
  maskBias: {
    kind: 'number',
    range: { integer: false, min: -10000, max: 0 },
    default: 0,
    help: "attention logit bias on the source's keys inside the mask: below 0 the edit copies less of what it replaces (-10000 = none of it; default: the pack's, else 0)",
    flags: ['swap'],
    places: [...RECIPE, 'packTask'],
  },
  threads: {
    kind: 'number',
    range: { integer: true, min: 1, max: 256 },
    help: 'CPU threads for inference (default: the physical cores, shared among workers)',
    flags: ['invert', 'reconstruct', 'edit', 'swap', 'generate', 'batch', 'layers', 'presets'],
    places: [],
  },
  overlap: {
    kind: 'number',
    range: { integer: true, min: 0, max: 1000 },
    help: 'frames shared by neighbouring windows when a clip is longer than one model pass (cross-faded; default a quarter window)',
    flags: ['invert', 'edit', 'swap', 'generate'],
    places: [],
  },
  window: {
    kind: 'number',
    range: { integer: true, min: 1, max: 1000 },
    help: "most frames in one model pass: a count the pack takes (1 + 4k for Wan2.1), less than its largest to edit a long clip in more, shorter windows that need less memory (default the pack's largest)",
    flags: ['invert', 'edit', 'swap', 'generate'],
    places: [],
  },
  maxInputPixels: {
    kind: 'number',
    range: { integer: true, min: 1, max: 1_000_000_000 },
    help: 'refuse inputs and masks whose images or frames hold more pixels than this (width × height), before decoding them',
    flags: ['invert', 'edit', 'swap', 'batch', 'layers'],
    places: [],
  },
  variants: {
    kind: 'number',
    range: { integer: true, min: 1, max: 1000 },
    help: 'write this many outputs with consecutive seeds (--seed, --seed + 1, …; with --seed -1 the drawn one first), named after -o with the seed before the extension: -o scene.png gives scene-<seed>.png',
    flags: ['generate', 'edit', 'swap'],
    places: [],
  },
  frames: {
    kind: 'number',
    range: { integer: true, min: 1, max: 1000 },
    default: 1,
    help: 'frames to generate (1 = a still; a clip needs a pack that takes frames, and the pack limits the count)',
    flags: ['generate'],
    places: [],
  },
  fps: {
    kind: 'number',
    range: { integer: false, min: 0, max: 240, minOpen: true },
    default: 8,
    help: 'frame rate of a generated clip',
    flags: ['generate'],
    places: [],
  },
  width: {
    kind: 'number',
    range: { integer: true, min: 1, max: 16384 },
    help: "width in pixels (default: the pack's default size)",
    flags: ['generate'],
    places: [],
  },
  height: {
    kind: 'number',
    range: { integer: true, min: 1, max: 16384 },
    help: "height in pixels (default: the pack's default size)",
    flags: ['generate'],
    places: [],
  },
  concurrency: {
    kind: 'number',
    range: { integer: true, min: 1, max: 256 },
    default: 1,
    help: 'items run at once, each on its own inference worker with its own model session (1 with --device other than cpu)',
    flags: ['batch'],
    places: [],
  },
  cases: {
    kind: 'number',
    range: { integer: true, min: 1, max: 100000 },
    help: "at most this many of the task's cases per calibration file (default: all)",
    flags: ['layers'],
    places: [],
  },
  topK: {
    kind: 'number',
    range: { integer: true, min: 1, max: 1000 },
    help: 'size k of the chosen layer set (default: half the shareable layers, rounded up)',
    flags: ['layers'],
    places: [],
  },
} as const satisfies Readonly<Record<string, SettingSpec>>;

/** The keys of a batch manifest item that are not settings, with what each holds. */
export const ITEM_FIELDS = {
  id: "output name stem, relative to the output folder (may hold a sub-folder: shapes/circle); default: the input's file name without extension",
  input: "the image or clip to edit, relative to the manifest (inside its folder unless allowInputsOutside)",
  mask: 'swap: white = edit: an image, a folder of per-frame PNGs, or a mask video, relative to the manifest',
  sourcePrompt: 'caption of the input (default: empty)',
  negativePrompt: 'a prompt the guidance steers away from',
  targets: 'output codes mapped to target prompts, e.g. {blue: "a blue circle"}: one output per target',
  preset: "a preset's name or a .yaml file relative to the manifest (default: the manifest's preset)",
} as const;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** The settings that are numbers, each with its range. */
export type RangedName = { [K in SettingName]: (typeof SETTINGS)[K] extends { readonly range: NumberRange } ? K : never }[SettingName];

/** The range of every number a user may set, by setting name. */
export const RANGES = Object.fromEntries(SETTING_NAMES.flatMap((n) => {
  const s: SettingSpec = SETTINGS[n];
  return s.range ? [[n, s.range]] : [];
})) as Readonly<Record<RangedName, NumberRange>>;

/** The settings that may be set in `place`, in table order. */
export function settingsIn(place: Place): SettingName[] {
  return SETTING_NAMES.filter((n) => (SETTINGS[n].places as readonly Place[]).includes(place));
}

/** The flag of a setting: its name in kebab case (maskGrow → mask-grow). */
export function flagOf(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The help text of a setting's flag in `command`. */
export function helpOf(name: SettingName, command?: FlagCommand): string {
  const s: SettingSpec = SETTINGS[name];
  return (command !== undefined ? s.helpFor?.[command] : undefined) ?? s.help;
}
