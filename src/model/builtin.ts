/**
 * Where the built-in pack lives: models/flowedit-tiny, the project's own trained model
 * (docs/built-in-model.md), committed so every command runs after npm ci with no download.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is dist/src/model/builtin.js inside it. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const CANDIDATES = ['models/flowedit-tiny'] as const;

/** Built-in pack folders that exist, the default first. */
export function builtinPackDirs(): string[] {
  return CANDIDATES.map((rel) => join(ROOT, rel)).filter((dir) => existsSync(join(dir, 'manifest.json')));
}

/** Folder of the default pack. */
export function builtinPackDir(): string {
  const dir = builtinPackDirs()[0];
  if (!dir) throw new Error(`No built-in model pack found under ${ROOT} (looked for ${CANDIDATES.join(', ')}); pass --model <pack dir>.`);
  return dir;
}
