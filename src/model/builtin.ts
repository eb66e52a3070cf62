/**
 * Where the built-in pack lives. Until the trained flowedit-tiny pack is committed under
 * models/, the tiny random-weight fixture pack stands in so every command runs after npm ci.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is dist/src/model/builtin.js inside it. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const CANDIDATES = ['models/flowedit-tiny', 'test/fixtures/packs/tiny'] as const;

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
