/**
 * Presets: named recipes in YAML. A name (e.g. "recolor") is looked up among the built-in presets
 * in the package's presets/ folder; anything that looks like a path (has a slash or a .yaml/.yml
 * ending) is read from that file. A preset may also carry a one-line `description`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRecipe, type Recipe } from './recipe.js';
import { parseYaml } from './yaml.js';

/** The package root: this file is dist/src/batch/presets.js inside it. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Folder of the built-in presets. */
export function builtinPresetDir(): string {
  return join(ROOT, 'presets');
}

export interface Preset {
  readonly name: string;
  readonly file: string;
  readonly description: string;
  readonly recipe: Recipe;
}

const NAME = /^[a-z0-9][a-z0-9-]*$/;

export function looksLikePath(ref: string): boolean {
  return ref.includes('/') || ref.includes('\\') || /\.ya?ml$/i.test(ref);
}

/** How a preset file is named in messages: relative to the working directory when inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/** Reads and validates one preset file. */
export async function readPresetFile(file: string): Promise<Preset> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `Preset file not found: ${shown(file)}` : `Cannot read preset ${shown(file)}: ${err.message}`);
  });
  const data = parseYaml(text, shown(file));
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`${shown(file)}: a preset is a YAML mapping of settings (e.g. "steps: 12"), not ${Array.isArray(data) ? 'a list' : JSON.stringify(data)}`);
  }
  const obj = data as Record<string, unknown>;
  const description = obj.description ?? '';
  if (typeof description !== 'string') throw new Error(`${shown(file)}: description: expected text but received ${JSON.stringify(description)}`);
  const recipe = readRecipe(obj, shown(file), ['description']);
  return { name: basename(file, extname(file)), file, description, recipe };
}

/** Names of the built-in presets, sorted. */
export async function listPresetNames(dir = builtinPresetDir()): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.filter((f) => /\.ya?ml$/.test(f)).map((f) => basename(f, extname(f))).sort();
}

/** Finds a preset by built-in name or by path (relative paths from `baseDir`). */
export async function findPreset(ref: string, baseDir = process.cwd()): Promise<Preset> {
  if (looksLikePath(ref)) return readPresetFile(resolve(baseDir, ref));
  if (!NAME.test(ref)) throw new Error(`Preset names are lower-case words joined by hyphens (e.g. recolor); received "${ref}"`);
  const names = await listPresetNames();
  if (!names.includes(ref)) {
    throw new Error(`Unknown preset "${ref}": choose one of ${names.join(', ')} (flowedit presets list), or give a path to a .yaml file`);
  }
  const dir = builtinPresetDir();
  const file = (await readdir(dir)).find((f) => basename(f, extname(f)) === ref)!;
  return readPresetFile(join(dir, file));
}
