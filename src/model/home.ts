/**
 * The user's configuration folder, and packs found by name.
 *
 * The folder is $FLOWEDIT_HOME, else the platform's configuration directory: on Linux (and any
 * other Unix) $XDG_CONFIG_HOME/flowedit or ~/.config/flowedit, on macOS ~/Library/Application
 * Support/flowedit, on Windows %APPDATA%\flowedit. It holds packs/ (a pack folder there is found
 * by its folder name: `--model NAME`) and presets/ (NAME.yaml: `--preset NAME`). Nothing is made
 * there until something is written (flowedit layers --write).
 */
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { builtinPackDir, builtinPackDirs } from './builtin.js';
import { readPack, type PackInfo } from './pack.js';

/** The environment variable that names the configuration folder. */
export const HOME_ENV = 'FLOWEDIT_HOME';

/** The configuration folder (not checked to exist). */
export function flowEditHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const own = env[HOME_ENV];
  if (own) return resolve(own);
  if (platform === 'win32') return join(env.APPDATA || join(homedir(), 'AppData', 'Roaming'), 'flowedit');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'flowedit');
  const xdg = env.XDG_CONFIG_HOME;
  // the XDG rule: a relative XDG_CONFIG_HOME is ignored
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.config'), 'flowedit');
}

/** Where packs found by name live. */
export function homePacksDir(): string {
  return join(flowEditHome(), 'packs');
}

/** Where user presets live. */
export function homePresetsDir(): string {
  return join(flowEditHome(), 'presets');
}

/** A pack name (a folder name under packs/): no path separators, not `.` or `..`. */
export function isPackName(ref: string): boolean {
  return ref !== '' && ref !== '.' && ref !== '..' && !/[/\\]/.test(ref) && !isAbsolute(ref);
}

const isDir = (p: string): Promise<boolean> => stat(p).then((s) => s.isDirectory(), () => false);

/** Names of the pack folders in the configuration folder (those with a manifest.json), sorted. */
export async function homePackNames(): Promise<string[]> {
  const dir = homePacksDir();
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const e of entries) {
    if (!e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink()) && (await stat(join(dir, e.name, 'manifest.json')).then((s) => s.isFile(), () => false))) names.push(e.name);
  }
  return names.sort();
}

/** The built-in pack whose id (or folder name) is `name`, if any. */
async function builtinNamed(name: string): Promise<string | undefined> {
  for (const dir of builtinPackDirs()) {
    if (basename(dir) === name) return dir;
    const info = await readPack(dir).catch(() => null);
    if (info?.manifest.id === name) return dir;
  }
  return undefined;
}

/**
 * The pack `ref` names: none, the default built-in pack; a path (it has a slash), that folder; a
 * bare name, a folder of that name in the working directory, else <home>/packs/NAME, else the
 * built-in pack with that id. Throws what was looked for and what there is when none exists.
 */
export async function findPack(ref: string | undefined): Promise<PackInfo> {
  if (ref === undefined) return readPack(builtinPackDir());
  if (!isPackName(ref)) return readPack(ref);
  if (await isDir(ref)) return readPack(ref);
  const own = join(homePacksDir(), ref);
  if (await isDir(own)) return readPack(own);
  const builtin = await builtinNamed(ref);
  if (builtin) return readPack(builtin);
  const names = await homePackNames();
  const there = names.length ? `it holds ${names.join(', ')}` : 'it holds none';
  const builtins = (await Promise.all(builtinPackDirs().map((d) => readPack(d).then((i) => i.manifest.id, () => basename(d))))).join(', ') || 'none';
  throw new Error(
    `No model pack "${ref}": no folder ${ref} here, none named so in ${homePacksDir()} (${there}), and no built-in pack has that id (built-in: ${builtins}). ` +
      `Give the pack folder's path, or put the pack in ${join(homePacksDir(), ref)} (${HOME_ENV} sets the configuration folder)`,
  );
}
