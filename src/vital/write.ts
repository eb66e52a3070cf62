/**
 * Writing a measured layer set into a pack the user owns: the task's shareLayers and shareSteps
 * in the pack's manifest.json (defaults.tasks.<key>), every other field kept, the new manifest
 * checked and written atomically (model/task-defaults.ts). Before any work it is refused for a
 * pack whose manifest cannot be replaced (a folder that is not writable, a read-only
 * manifest.json).
 *
 * The built-in pack shipped in the package is never written (its defaults are every later run's,
 * and an installed package is not the user's to change) unless the caller allows it: the defaults
 * go into the user's copy of it in the configuration folder, <home>/packs/<id>, made on the first
 * write (model/pack-copy.ts: the manifest and small files copied, the weights linked) and found
 * by `--model <id>`.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assertWritable } from '../media/atomic-file.js';
import { builtinPackDirs } from '../model/builtin.js';
import { homePacksDir, HOME_ENV } from '../model/home.js';
import { copyPack, differingWeights, type PackCopy } from '../model/pack-copy.js';
import { MANIFEST_FILE, readPack } from '../model/pack.js';
import { writeTaskSharing, type SharingDefaults } from '../model/task-defaults.js';

const real = (p: string): Promise<string> => realpath(p).catch(() => p);

/** Whether `dir` is a built-in pack folder of this installation. */
export async function isBuiltinPack(dir: string): Promise<boolean> {
  const target = await real(dir);
  for (const b of builtinPackDirs()) if ((await real(b)) === target) return true;
  return false;
}

/** Where a write for a pack goes: the pack itself, or for the built-in pack the user's copy of it. */
export interface WriteTarget {
  /** the pack folder whose manifest.json is written */
  readonly dir: string;
  /** set when `dir` is the user's copy of the built-in pack `builtin`; `exists`: made by an earlier write */
  readonly copy?: { readonly builtin: string; readonly exists: boolean };
}

/** Refuses a manifest that cannot be replaced: missing, read-only, or in a folder where its replacement cannot be made. */
async function assertManifestWritable(dir: string): Promise<void> {
  const path = join(dir, MANIFEST_FILE);
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`Cannot write ${path}: the pack has no ${MANIFEST_FILE}`);
  if ((st.mode & 0o222) === 0) {
    throw new Error(`Cannot write ${path}: it is read-only (mode ${(st.mode & 0o777).toString(8)}); make it writable (chmod u+w) if the task defaults may change`);
  }
  await assertWritable(path);
}

/** Refuses a folder that could not be made: its nearest existing ancestor must be a writable folder. */
async function assertCanMake(dir: string): Promise<void> {
  let at = dirname(dir);
  while (!(await stat(at).then(() => true, () => false)) && dirname(at) !== at) at = dirname(at);
  const why = `the configuration folder (${HOME_ENV}, else the platform's configuration directory) must be a folder you can write`;
  await assertWritable(join(at, 'probe')).catch((err: Error) => {
    throw new Error(`Cannot make ${dir}: ${err.message.replace(/^Cannot write \S+: /, '')}; ${why}`);
  });
}

/** The user's copy of the built-in pack at `builtin`, checked: absent (to be made), or a pack with the same weights. */
async function builtinCopyTarget(builtin: string): Promise<WriteTarget> {
  const { manifest } = await readPack(builtin);
  const dir = join(homePacksDir(), manifest.id);
  if (!(await stat(dir).then(() => true, () => false))) {
    await assertCanMake(dir);
    return { dir, copy: { builtin, exists: false } };
  }
  const moveAway = `move ${dir} away to have a fresh copy made`;
  await readPack(dir).catch((err: Error) => {
    throw new Error(`${dir} is where your copy of the built-in pack ${manifest.id} goes, but it is not a pack (${err.message.split('\n')[0]}): ${moveAway}`);
  });
  const differ = await differingWeights(builtin, dir);
  if (differ.length > 0) {
    throw new Error(
      `${dir} holds other weights than the built-in pack ${manifest.id} (${differ.join(', ')}; made from another flowedit version?): ${moveAway}, or analyse that copy itself with --model ${manifest.id}`,
    );
  }
  await assertManifestWritable(dir);
  return { dir, copy: { builtin, exists: true } };
}

/**
 * Where a write for the pack at `dir` goes, refusing before any work what cannot be written: the
 * pack itself (a read-only manifest.json, or a folder where its replacement cannot be made, is
 * refused), or for the built-in pack, unless `allowBuiltin`, the user's copy of it in the
 * configuration folder (a folder there that is not a copy of it is refused).
 */
export async function assertPackWritable(dir: string, o: { readonly allowBuiltin: boolean }): Promise<WriteTarget> {
  if (!o.allowBuiltin && (await isBuiltinPack(dir))) return builtinCopyTarget(dir);
  await assertManifestWritable(dir);
  return { dir };
}

export interface WrittenDefaults {
  readonly path: string;
  /** the defaults key written (defaults.tasks.<key>) */
  readonly key: string;
  /** what the task's own defaults held before (absent: the pack-wide or flowedit's applied) */
  readonly before: { readonly shareLayers?: readonly number[]; readonly shareSteps?: number };
  readonly after: SharingDefaults;
  /** set when the defaults went into the user's copy of the built-in pack: its id; `made`, when the copy was made now */
  readonly copyOf?: { readonly id: string; readonly builtin: string; readonly made?: PackCopy };
}

/** Writes the task's sharing for the pack at `dir` (where assertPackWritable says); says what it wrote over. */
export async function writeLayerDefaults(dir: string, key: string, s: SharingDefaults, o: { readonly allowBuiltin: boolean }): Promise<WrittenDefaults> {
  const target = await assertPackWritable(dir, o);
  const made = target.copy && !target.copy.exists ? await copyPack(target.copy.builtin, target.dir) : undefined;
  const raw = JSON.parse(await readFile(join(target.dir, MANIFEST_FILE), 'utf8')) as { id: string; defaults?: { tasks?: Record<string, { shareLayers?: number[]; shareSteps?: number }> } };
  const old = raw.defaults?.tasks?.[key] ?? {};
  const before = { ...(old.shareLayers !== undefined ? { shareLayers: old.shareLayers } : {}), ...(old.shareSteps !== undefined ? { shareSteps: old.shareSteps } : {}) };
  const path = await writeTaskSharing(target.dir, key, s);
  const copyOf = target.copy ? { copyOf: { id: raw.id, builtin: target.copy.builtin, ...(made ? { made } : {}) } } : {};
  return { path, key, before, after: { shareLayers: [...s.shareLayers], shareSteps: s.shareSteps }, ...copyOf };
}
