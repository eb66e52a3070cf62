/**
 * A recipe: the settings a preset or a manifest item may set, each key checked for its type and
 * range when read, so a bad value is reported before anything runs. Precedence, lowest first:
 * flowedit's defaults < the pack's defaults < preset < manifest item < command-line flag.
 */
import type { SettingOptions } from '../edit/settings.js';
import { SOLVERS } from '../solvers/index.js';
import { GUIDE_AGAINST, isGuideAgainst } from '../edit/velocity.js';
import { isGroupName, type GroupSource } from '../model/layer-groups.js';

/** Commands a recipe may name. generate is declared so presets can name it ahead. */
export const RECIPE_COMMANDS = ['invert', 'reconstruct', 'edit', 'swap', 'generate'] as const;
export type RecipeCommand = (typeof RECIPE_COMMANDS)[number];

export interface Recipe {
  readonly command?: RecipeCommand;
  readonly steps?: number;
  readonly solver?: string;
  readonly guidance?: number;
  /** edit, swap: guide away from the empty or the source prompt */
  readonly guideAgainst?: string;
  /** layer numbers, or a layer group's name (e.g. single), resolved against the pack when settings are */
  readonly shareLayers?: readonly number[] | string;
  readonly shareSteps?: number;
  readonly fit?: string;
  readonly seed?: number;
  /** swap: pixels to dilate the mask by */
  readonly maskGrow?: number;
  /** swap: feather radius of the mask edge, in pixels */
  readonly maskFeather?: number;
  /** swap: attention logit bias (≤ 0) on the source's keys inside the mask */
  readonly maskBias?: number;
  /** edit: θ of the mask estimated from the prompts, in [0, 1) (0 = none) */
  readonly autoMask?: number;
  /** edit, swap: the edit path also sees the reconstruction path's text keys (joint-text packs) */
  readonly shareText?: boolean;
  /** σ of a static schedule shift, replacing the pack's schedule */
  readonly shift?: number;
}

interface KeyRule {
  readonly expected: string;
  readonly ok: (v: unknown) => boolean;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Every recipe key, what it must be, and the check. */
export const RECIPE_KEYS: Readonly<Record<keyof Recipe, KeyRule>> = {
  command: { expected: `one of ${RECIPE_COMMANDS.join(', ')}`, ok: (v) => (RECIPE_COMMANDS as readonly unknown[]).includes(v) },
  steps: { expected: 'a positive integer', ok: (v) => isInt(v) && v > 0 },
  solver: { expected: `one of ${SOLVERS.join(', ')}`, ok: (v) => (SOLVERS as readonly unknown[]).includes(v) },
  guidance: { expected: 'a positive number (1 = off)', ok: (v) => isNum(v) && v > 0 },
  guideAgainst: { expected: GUIDE_AGAINST.join(' or '), ok: isGuideAgainst },
  shareLayers: {
    expected: "a list of layer numbers, e.g. [1, 2], or the name of a layer group (the pack's transformer.layerGroups, or all), e.g. single",
    ok: (v) => (Array.isArray(v) && v.every((l) => isInt(l) && l >= 0)) || isGroupName(v),
  },
  shareSteps: { expected: 'a number in [0, 1]', ok: (v) => isNum(v) && v >= 0 && v <= 1 },
  fit: { expected: 'pad or resize', ok: (v) => v === 'pad' || v === 'resize' },
  seed: { expected: 'a non-negative integer', ok: (v) => isInt(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER },
  maskGrow: { expected: 'a non-negative integer (pixels)', ok: (v) => isInt(v) && v >= 0 },
  maskFeather: { expected: 'a non-negative number (pixels)', ok: (v) => isNum(v) && v >= 0 },
  maskBias: { expected: 'a number ≤ 0', ok: (v) => isNum(v) && v <= 0 },
  autoMask: { expected: 'a number in [0, 1) (0 = no automatic mask)', ok: (v) => isNum(v) && v >= 0 && v < 1 },
  shareText: { expected: 'true or false', ok: (v) => typeof v === 'boolean' },
  shift: { expected: 'a positive number (1 = no shift)', ok: (v) => isNum(v) && v > 0 },
};

export const RECIPE_KEY_NAMES = Object.keys(RECIPE_KEYS) as (keyof Recipe)[];

export function isRecipeKey(key: string): key is keyof Recipe {
  return Object.hasOwn(RECIPE_KEYS, key);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `${JSON.stringify(v)} (a list)`;
  return `${JSON.stringify(v)} of type ${typeof v}`;
}

/** Why a preset, manifest item or pack cannot name the device. */
export const DEVICE_CHOICE = 'the device is chosen where the edit runs: pass --device or set FLOWEDIT_DEVICE';

/**
 * Reads the recipe keys of `obj`, checking each; `where` names the source in messages
 * (e.g. "presets/recolor.yaml"). Keys not in `extra` and not recipe keys are refused.
 */
export function readRecipe(obj: Readonly<Record<string, unknown>>, where: string, extra: readonly string[] = []): Recipe {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (extra.includes(key)) continue;
    if (key === 'device') throw new Error(`${where}: "device" cannot be set here: ${DEVICE_CHOICE}`);
    if (!isRecipeKey(key)) {
      throw new Error(`${where}: unknown key "${key}"; expected one of ${[...extra, ...RECIPE_KEY_NAMES].join(', ')}`);
    }
    const rule = RECIPE_KEYS[key];
    if (!rule.ok(value)) throw new Error(`${where}: ${key}: expected ${rule.expected} but received ${describeValue(value)}`);
    out[key] = value;
  }
  return out as Recipe;
}

/** Layers recipes: later ones win, keys they leave out fall through. */
export function mergeRecipes(...layers: readonly Recipe[]): Recipe {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) out[k] = v;
  }
  return out as Recipe;
}

/** The part of a recipe that resolveSettings takes; `from` says who named a layer group in shareLayers. */
export function settingOptions(r: Recipe, from?: GroupSource): SettingOptions {
  return { steps: r.steps, solver: r.solver, guidance: r.guidance, guideAgainst: r.guideAgainst, shareLayers: r.shareLayers, shareLayersFrom: from, shareSteps: r.shareSteps, fit: r.fit, seed: r.seed, maskBias: r.maskBias, maskGrow: r.maskGrow, maskFeather: r.maskFeather, autoMask: r.autoMask, shareText: r.shareText, shift: r.shift };
}
