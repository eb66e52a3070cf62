/**
 * Writing a measured layer set into a pack the user owns: the task's shareLayers and shareSteps
 * in the pack's manifest.json (defaults.tasks.<key>), every other field kept, the new manifest
 * checked and written atomically (model/task-defaults.ts). Before any work it is refused for a
 * pack whose manifest cannot be replaced (a folder that is not writable, a read-only
 * manifest.json), and for the built-in pack shipped in the package unless the caller allows it:
 * its defaults are every later run's.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assertWritable } from '../media/atomic-file.js';
import { builtinPackDirs } from '../model/builtin.js';
import { MANIFEST_FILE } from '../model/pack.js';
import { writeTaskSharing, type SharingDefaults } from '../model/task-defaults.js';

const real = (p: string): Promise<string> => realpath(p).catch(() => p);

/** Whether `dir` is a built-in pack folder of this installation. */
export async function isBuiltinPack(dir: string): Promise<boolean> {
  const target = await real(dir);
  for (const b of builtinPackDirs()) if ((await real(b)) === target) return true;
  return false;
}

/**
 * Refuses, before any work, to write into the pack at `dir`: the built-in pack (unless
 * `allowBuiltin`), a read-only manifest.json, or a folder where its replacement cannot be made.
 */
export async function assertPackWritable(dir: string, o: { readonly allowBuiltin: boolean }): Promise<void> {
  const path = join(dir, MANIFEST_FILE);
  if (!o.allowBuiltin && (await isBuiltinPack(dir))) {
    throw new Error(
      `${dir} is the built-in pack shipped with flowedit, whose defaults every later run reads: copy it (cp -r ${dir} my-pack) and pass --model my-pack, or pass --write-builtin to write into it anyway`,
    );
  }
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`Cannot write ${path}: the pack has no ${MANIFEST_FILE}`);
  if ((st.mode & 0o222) === 0) {
    throw new Error(`Cannot write ${path}: it is read-only (mode ${(st.mode & 0o777).toString(8)}); make it writable (chmod u+w) if the task defaults may change`);
  }
  await assertWritable(path);
}

export interface WrittenDefaults {
  readonly path: string;
  /** the defaults key written (defaults.tasks.<key>) */
  readonly key: string;
  /** what the task's own defaults held before (absent: the pack-wide or flowedit's applied) */
  readonly before: { readonly shareLayers?: readonly number[]; readonly shareSteps?: number };
  readonly after: SharingDefaults;
}

/** Writes the task's sharing into the pack at `dir` (after assertPackWritable); says what it wrote over. */
export async function writeLayerDefaults(dir: string, key: string, s: SharingDefaults, o: { readonly allowBuiltin: boolean }): Promise<WrittenDefaults> {
  await assertPackWritable(dir, o);
  const raw = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as { defaults?: { tasks?: Record<string, { shareLayers?: number[]; shareSteps?: number }> } };
  const old = raw.defaults?.tasks?.[key] ?? {};
  const before = { ...(old.shareLayers !== undefined ? { shareLayers: old.shareLayers } : {}), ...(old.shareSteps !== undefined ? { shareSteps: old.shareSteps } : {}) };
  const path = await writeTaskSharing(dir, key, s);
  return { path, key, before, after: { shareLayers: [...s.shareLayers], shareSteps: s.shareSteps } };
}
