/**
 * Batch manifests: YAML (a list of items, or a mapping with `items` and a default `preset`) or
 * JSON Lines (one item per line). Paths are relative to the manifest; inputs and masks must lie in
 * the manifest's folder unless a YAML manifest says `allowInputsOutside: true` (or the command
 * line allows it), which plan.ts checks by real path. This module reads and
 * type-checks; checks against the file system and presets happen in plan.ts.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { readRecipe, SCHEMA_KEY, type Recipe } from '../settings/recipe.js';
import { ITEM_FIELDS, settingsIn } from '../settings/table.js';
import { parseYaml } from '../media/yaml.js';

export interface ManifestTarget {
  /** short code used in the output name, e.g. "blue" */
  readonly code: string;
  readonly prompt: string;
}

export interface ManifestItem {
  /** 1-based position in the manifest */
  readonly index: number;
  /** how messages name the item: "item 3 (circle)" */
  readonly label: string;
  /** output name stem, relative to the output folder (may hold a sub-folder: "shapes/circle") */
  readonly id: string;
  /** absolute paths */
  readonly input: string;
  readonly mask?: string;
  readonly sourcePrompt: string;
  /** swap: a prompt the guidance steers away from */
  readonly negativePrompt?: string;
  readonly targets: readonly ManifestTarget[];
  /** preset name or path (paths relative to the manifest) */
  readonly preset?: string;
  /** per-item overrides */
  readonly recipe: Recipe;
}

export interface Manifest {
  readonly file: string;
  readonly dir: string;
  readonly items: readonly ManifestItem[];
  /** inputs and masks may lie outside the manifest's folder (`allowInputsOutside: true`) */
  readonly allowInputsOutside: boolean;
}

const ITEM_KEYS = Object.keys(ITEM_FIELDS);
const CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function text(obj: Record<string, unknown>, key: string, where: string, required: boolean): string | undefined {
  const v = obj[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || (required && v === '')) {
    throw new Error(`${where}: ${key}: expected ${required ? 'non-empty ' : ''}text but received ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }
  return v;
}

function readTargets(v: unknown, where: string): ManifestTarget[] {
  if (v === undefined) return [];
  if (!isMapping(v)) {
    throw new Error(`${where}: targets: expected a mapping of output codes to target prompts (e.g. {blue: "a blue circle"}) but received ${JSON.stringify(v)}`);
  }
  return Object.entries(v).map(([code, prompt]) => {
    if (!CODE.test(code)) throw new Error(`${where}: targets: code "${code}" must be 1-32 letters, digits, - or _ (it becomes part of the file name)`);
    if (typeof prompt !== 'string') throw new Error(`${where}: targets.${code}: expected a prompt (text) but received ${JSON.stringify(prompt)}`);
    return { code, prompt };
  });
}

function readItem(raw: unknown, index: number, dir: string, where: string, defaultPreset: string | undefined): ManifestItem {
  if (!isMapping(raw)) throw new Error(`${where}: an item is a mapping with at least "input", but received ${JSON.stringify(raw)}`);
  const recipe = readRecipe(raw, where, ITEM_KEYS, 'item');
  const input = text(raw, 'input', where, true)!;
  const idGiven = text(raw, 'id', where, false);
  const id = idGiven ?? basename(input, extname(input));
  if (id === '') throw new Error(`${where}: id: expected a non-empty name for the item's outputs`);
  const mask = text(raw, 'mask', where, false);
  const preset = text(raw, 'preset', where, false) ?? defaultPreset;
  const negativePrompt = text(raw, 'negativePrompt', where, false);
  return {
    index,
    label: `item ${index} (${id})`,
    id,
    input: resolve(dir, input),
    ...(mask !== undefined ? { mask: resolve(dir, mask) } : {}),
    sourcePrompt: text(raw, 'sourcePrompt', where, false) ?? '',
    ...(negativePrompt !== undefined ? { negativePrompt } : {}),
    targets: readTargets(raw.targets, where),
    ...(preset !== undefined ? { preset } : {}),
    recipe,
  };
}

/** Parses manifest text; `file` decides the format (.jsonl = JSON Lines, else YAML). */
export function parseManifest(source: string, file: string): Manifest {
  const dir = dirname(resolve(file));
  const name = basename(file);
  const items: ManifestItem[] = [];
  let allowInputsOutside = false;
  if (/\.jsonl$/i.test(file)) {
    const lines = source.split(/\r?\n/);
    lines.forEach((line, i) => {
      if (line.trim() === '' || line.trimStart().startsWith('//')) return;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (err) {
        throw new Error(`${name}:${i + 1}: not valid JSON (${(err as Error).message}); each line of a .jsonl manifest is one item object`);
      }
      items.push(readItem(raw, items.length + 1, dir, `${name}:${i + 1}`, undefined));
    });
  } else {
    const data = parseYaml(source, name);
    let list: unknown = data;
    let defaultPreset: string | undefined;
    if (isMapping(data)) {
      const extra = Object.keys(data).filter((k) => k !== 'items' && k !== 'preset' && k !== 'allowInputsOutside' && k !== SCHEMA_KEY);
      if (extra.length > 0) throw new Error(`${name}: unknown key "${extra[0]}"; a manifest mapping has "items", an optional default "preset", an optional "allowInputsOutside" and an optional "$schema" (ignored)`);
      defaultPreset = text(data, 'preset', name, false);
      const allow = data.allowInputsOutside;
      if (allow !== undefined && typeof allow !== 'boolean') throw new Error(`${name}: allowInputsOutside: expected true or false but received ${JSON.stringify(allow)}`);
      allowInputsOutside = allow === true;
      list = data.items;
    }
    if (!Array.isArray(list)) throw new Error(`${name}: expected a list of items (or a mapping with "items") but received ${JSON.stringify(list)}`);
    list.forEach((raw, i) => items.push(readItem(raw, i + 1, dir, `${name} item ${i + 1}`, defaultPreset)));
  }
  if (items.length === 0) throw new Error(`${name} lists no items`);
  return { file: resolve(file), dir, items, allowInputsOutside };
}

export async function readManifest(file: string): Promise<Manifest> {
  const source = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `Manifest not found: ${file}` : `Cannot read manifest ${file}: ${err.message}`);
  });
  return parseManifest(source, file);
}

/** Item keys, for help and error texts. */
export const MANIFEST_ITEM_KEYS: readonly string[] = [...ITEM_KEYS, ...settingsIn('item')];
