/** Checks every command makes before a model loads: the pack, the input, the output, the settings. */
import { open, stat } from 'node:fs/promises';
import { assertWritable } from '../../media/atomic-file.js';
import { builtinPackDir } from '../../model/builtin.js';
import { readPack, type PackInfo } from '../../model/pack.js';
import { resolveSettings, type Settings } from '../../edit/settings.js';
import { isInversionBuffer } from '../../edit/inversion-file.js';
import { UserError } from '../errors.js';
import { parseLayerList, type EditArgs, type ModelArgs, type SolverArgs } from '../options.js';

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

export function settingsFrom(pack: PackInfo, task: string, a: Partial<SolverArgs & EditArgs>): Promise<Settings> {
  return userCheck(() =>
    resolveSettings(pack.manifest, task, {
      steps: a.steps,
      solver: a.solver,
      guidance: a.guidance,
      shareLayers: a['share-layers'] === undefined ? undefined : parseLayerList(a['share-layers']),
      shareSteps: a['share-steps'],
      fit: a.fit,
      seed: a.seed,
    }),
  );
}

/** Prints the one-line result summary. */
export function reportDone(what: string, summary: { output: string; seconds: number; calls: number }, quiet: boolean): void {
  if (!quiet) process.stderr.write(`${what} ${summary.output} (${summary.calls} model calls, ${summary.seconds.toFixed(1)} s)\n`);
}
