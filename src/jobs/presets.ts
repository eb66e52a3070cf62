/**
 * Presets: named recipes in YAML. A name (e.g. "recolor") is looked up among the built-in presets
 * in the package's presets/ folder, then among the user's in the configuration folder's presets/
 * (model/home.ts); a user preset may not take a built-in's name (it is refused, never silently
 * preferred or ignored). Anything that looks like a path (has a slash or a .yaml/.yml ending) is
 * read from that file. A preset may also carry a one-line `description`, and a `$schema` (ignored) for editors.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homePresetsDir } from '../model/home.js';
import { readRecipe, SCHEMA_KEY, type Recipe } from '../settings/recipe.js';
import { parseYaml } from '../media/yaml.js';

/** The package root: this file is dist/src/jobs/presets.js inside it. */
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
  const recipe = readRecipe(obj, shown(file), ['description', SCHEMA_KEY]);
  return { name: basename(file, extname(file)), file, description, recipe };
}

/** Names of the built-in presets, sorted (or of the presets in `dir`). */
export async function listPresetNames(dir = builtinPresetDir()): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.filter((f) => /\.ya?ml$/.test(f)).map((f) => basename(f, extname(f))).filter((n) => NAME.test(n)).sort();
}

/** Names of the user's presets (the configuration folder's presets/), sorted. */
export function listUserPresetNames(): Promise<string[]> {
  return listPresetNames(homePresetsDir());
}

/** The file of preset `name` (one of listPresetNames(dir)) in `dir`. */
export async function presetFileIn(dir: string, name: string): Promise<string> {
  const file = (await readdir(dir)).find((f) => /\.ya?ml$/.test(f) && basename(f, extname(f)) === name)!;
  return join(dir, file);
}

/** Finds a preset by name (built-in, then the user's) or by path (relative paths from `baseDir`). */
export async function findPreset(ref: string, baseDir = process.cwd()): Promise<Preset> {
  if (looksLikePath(ref)) return readPresetFile(resolve(baseDir, ref));
  if (!NAME.test(ref)) throw new Error(`Preset names are lower-case words joined by hyphens (e.g. recolor); received "${ref}"`);
  const [names, own] = [await listPresetNames(), await listUserPresetNames()];
  const userDir = homePresetsDir();
  if (names.includes(ref) && own.includes(ref)) {
    const file = await presetFileIn(userDir, ref);
    throw new Error(`Preset "${ref}" is both a built-in preset and yours (${file}): a user preset cannot take a built-in's name; rename ${basename(file)}, or give its path (--preset ${file})`);
  }
  if (names.includes(ref)) return readPresetFile(await presetFileIn(builtinPresetDir(), ref));
  if (own.includes(ref)) return readPresetFile(await presetFileIn(userDir, ref));
  const yours = own.length ? `, or of yours ${own.join(', ')}` : '';
  throw new Error(`Unknown preset "${ref}": choose one of ${names.join(', ')}${yours} (flowedit presets list), give a path to a .yaml file, or put ${ref}.yaml in ${userDir}`);
}
