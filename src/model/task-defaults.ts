/**
 * Writing one task's layer set and sharing range into a pack's manifest.json
 * (defaults.tasks.<task>.shareLayers / shareSteps), as `flowedit layers --write` does. The rest of
 * the file is kept as it was; the new manifest is checked before it replaces the old one, and is
 * written atomically.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../media/atomic-file.js';
import { checkManifest } from './manifest.js';
import { MANIFEST_FILE, PackError } from './pack.js';

export interface SharingDefaults {
  readonly shareLayers: readonly number[];
  readonly shareSteps: number;
}

/** Sets defaults.tasks[task]'s shareLayers and shareSteps in the pack at `dir`; returns the file written. */
export async function writeTaskSharing(dir: string, task: string, s: SharingDefaults): Promise<string> {
  const path = join(dir, MANIFEST_FILE);
  const raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  const defaults = (raw.defaults ?? {}) as Record<string, unknown>;
  const tasks = (defaults.tasks ?? {}) as Record<string, Record<string, unknown>>;
  const next = {
    ...raw,
    defaults: { ...defaults, tasks: { ...tasks, [task]: { ...tasks[task], shareLayers: [...s.shareLayers], shareSteps: s.shareSteps } } },
  };
  const checked = checkManifest(next);
  if (!checked.manifest) throw new PackError(dir, checked.problems);
  await writeFileAtomic(path, Buffer.from(`${JSON.stringify(next, null, 2)}\n`));
  return path;
}
