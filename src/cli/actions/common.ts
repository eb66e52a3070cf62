/** Checks every command makes before a model loads: the pack, the input, the output, the settings. */
import { open, stat } from 'node:fs/promises';
import { assertWritable } from '../../media/atomic-file.js';
import { builtinPackDir } from '../../model/builtin.js';
import { readPack, type PackInfo } from '../../model/pack.js';
import { resolveSettings, type Settings } from '../../edit/settings.js';
import { isInversionBuffer } from '../../edit/inversion-file.js';
import { UserError } from '../errors.js';
import { findPreset, type Preset } from '../../batch/presets.js';
import { mergeRecipes, settingOptions, type Recipe } from '../../batch/recipe.js';
import { parseLayerList, type EditArgs, type ModelArgs, type PresetArgs, type SolverArgs } from '../options.js';

/** Runs a check, turning its error into a UserError (no stack trace). */
export async function userCheck<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

export function resolvePack(args: ModelArgs): Promise<PackInfo> {
  return userCheck(() => readPack(args.model ?? builtinPackDir()));
}

export function checkThreads(args: ModelArgs): number | undefined {
  const t = args.threads;
  if (t !== undefined && !(Number.isInteger(t) && t > 0)) throw new UserError(`Expected a positive integer for --threads but received ${t}`);
  return t;
}

/** The input must be a readable file; returns whether it is an inversion file. */
export async function checkInput(path: string): Promise<{ isInversion: boolean }> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new UserError(`Input not found: ${path}`);
  if (!st.isFile()) throw new UserError(`Input is not a file: ${path}`);
  const fh = await open(path, 'r').catch((err: Error) => {
    throw new UserError(`Cannot read ${path}: ${err.message}`);
  });
  try {
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    return { isInversion: isInversionBuffer(head) };
  } finally {
    await fh.close();
  }
}

export function checkOutput(path: string): Promise<void> {
  return userCheck(() => assertWritable(path));
}

/** Image outputs are PNGs (their settings ride in PNG text chunks): the name must say so. */
export async function checkPngOutput(path: string): Promise<void> {
  if (!/\.png$/i.test(path)) {
    throw new UserError(`flowedit writes PNG images (settings are recorded in PNG text chunks): name the output ${path.replace(/\.[^./]*$/, '')}.png`);
  }
  await checkOutput(path);
}

/** The settings flags as a recipe (the top layer of the precedence). */
export function flagRecipe(a: Partial<SolverArgs & EditArgs>): Recipe {
  return {
    steps: a.steps,
    solver: a.solver,
    guidance: a.guidance,
    shareLayers: a['share-layers'] === undefined ? undefined : parseLayerList(a['share-layers']),
    shareSteps: a['share-steps'],
    fit: a.fit,
    seed: a.seed,
  };
}

/** The preset named by --preset, if any. */
export function presetFrom(a: Partial<PresetArgs>): Promise<Preset | undefined> {
  const ref = a.preset;
  return ref === undefined ? Promise.resolve(undefined) : userCheck(() => findPreset(ref));
}

/** Resolves settings for `task`: flowedit's defaults < pack defaults < --preset < flags. */
export async function settingsFrom(pack: PackInfo, task: string, a: Partial<SolverArgs & EditArgs & PresetArgs>): Promise<Settings> {
  const preset = await presetFrom(a);
  return userCheck(() => resolveSettings(pack.manifest, task, settingOptions(mergeRecipes(preset?.recipe ?? {}, flagRecipe(a)))));
}

/**
 * With --print-config, prints what a command would run with (as JSON on stdout) and returns true:
 * the caller then stops before any model loads.
 */
export function printedConfig(a: Partial<PresetArgs>, config: Record<string, unknown>): boolean {
  if (!a['print-config']) return false;
  process.stdout.write(`${JSON.stringify({ ...(a.preset !== undefined ? { preset: a.preset } : {}), ...config }, null, 2)}\n`);
  return true;
}

/** Prints the one-line result summary. */
export function reportDone(what: string, summary: { output: string; seconds: number; calls: number }, quiet: boolean): void {
  if (!quiet) process.stderr.write(`${what} ${summary.output} (${summary.calls} model calls, ${summary.seconds.toFixed(1)} s)\n`);
}
