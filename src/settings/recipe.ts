/**
 * A recipe: the settings a preset or a manifest item may set (the table's preset and item
 * places), each key checked for its type and range when read, so a bad value is reported before
 * anything runs. Precedence, lowest first: flowedit's defaults < the pack's defaults < the pack's
 * task defaults < preset < manifest item < command-line flag.
 */
import { describeValue, expectedOf, isValid } from './check.js';
import { settingsIn, SETTINGS, type Place, type RecipeCommand, type SettingName } from './table.js';

export { RECIPE_COMMANDS, type RecipeCommand } from './table.js';

type RecipeName = { [K in SettingName]: 'preset' extends (typeof SETTINGS)[K]['places'][number] ? K : never }[SettingName];

type ValueOf<S> = S extends { readonly kind: 'number' } ? number
  : S extends { readonly kind: 'boolean' } ? boolean
  : S extends { readonly kind: 'layers' } ? readonly number[] | string
  : string;

/**
 * What a preset or manifest item may set, by the table of settings (src/settings/table.ts);
 * undefined = not given. Choices are typed as text: they are checked when read.
 */
export type Recipe = { readonly [K in Exclude<RecipeName, 'command'>]?: ValueOf<(typeof SETTINGS)[K]> | undefined } & {
  readonly command?: RecipeCommand | undefined;
};

/** Every key a preset may set. */
export const RECIPE_KEY_NAMES = settingsIn('preset') as (keyof Recipe)[];

/** A top-level key that points editors at a JSON Schema; presets and manifests accept and ignore it. */
export const SCHEMA_KEY = '$schema';

/** Why a preset, manifest item or pack cannot name the device. */
export const DEVICE_CHOICE = 'the device is chosen where the edit runs: pass --device or set FLOWEDIT_DEVICE';

/**
 * Reads the recipe keys of `obj`, checking each; `where` names the source in messages
 * (e.g. "presets/recolor.yaml"). Keys not in `extra` and not settings of `place` are refused.
 */
export function readRecipe(obj: Readonly<Record<string, unknown>>, where: string, extra: readonly string[] = [], place: Extract<Place, 'preset' | 'item'> = 'preset'): Recipe {
  const keys: readonly string[] = settingsIn(place);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (extra.includes(key)) continue;
    if (key === 'device') throw new Error(`${where}: "device" cannot be set here: ${DEVICE_CHOICE}`);
    if (!keys.includes(key)) throw new Error(`${where}: unknown key "${key}"; expected one of ${[...extra.filter((k) => k !== SCHEMA_KEY), ...keys].join(', ')}`);
    const name = key as SettingName;
    if (!isValid(name, value)) throw new Error(`${where}: ${key}: expected ${expectedOf(name)} but received ${describeValue(value)}`);
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
