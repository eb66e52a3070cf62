/** A temporary copy of the tiny-v2 fixture whose manifest names layer groups, as a FLUX.1 pack does. */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TINY_V2, tempDir } from './paths.js';

/** The groups the copy names: tiny-v2's three context layers split as FLUX.1's blocks are. */
export const TINY_GROUPS = { double: [0], single: [1, 2] } as const;

/** Copies tiny-v2 into a temporary folder and adds `groups` as transformer.layerGroups; returns the copy's folder. */
export async function layeredPack(groups: Readonly<Record<string, readonly number[]>> = TINY_GROUPS): Promise<string> {
  const dir = join(await tempDir('flowedit-layered-'), 'tiny-v2-groups');
  await cp(TINY_V2, dir, { recursive: true });
  const file = join(dir, 'manifest.json');
  const m = JSON.parse(await readFile(file, 'utf8')) as { id: string; transformer: Record<string, unknown> };
  m.id = 'tiny-v2-groups';
  m.transformer.layerGroups = groups;
  await writeFile(file, `${JSON.stringify(m, null, 2)}\n`);
  return dir;
}
