/**
 * A batch as a queue sees it: the request that plans it (plain data, the same for the command
 * that enqueues and every worker that re-plans), the job of each item, and the checks a worker
 * makes of a job's data before it plans anything. A job is data, never a command: it names a
 * manifest, an output folder, the planning flags and an item; the planner's confinement applies.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { findPack } from '../model/home.js';
import { readRecipe, type Recipe } from '../settings/recipe.js';
import { readManifest } from './manifest.js';
import { planBatch, type BatchPlan, type PlannedItem } from './plan.js';

/** Everything that decides a batch's plan besides the files themselves. */
export interface BatchRequest {
  /** absolute paths */
  readonly manifest: string;
  readonly outDir: string;
  readonly packDir: string;
  /** the setting flags (they win over presets and items), as a recipe */
  readonly flags: Recipe;
  /** the default preset for items that name none (a path is absolute) */
  readonly preset?: string;
  /** the batch seed, drawn already when -1 was asked for */
  readonly batchSeed: number;
  readonly maxInputPixels?: number;
  readonly allowInputsOutside: boolean;
  readonly ffmpeg?: string;
}

/**
 * A queued item: the request, which item, and the hash of its outputs' keys when it was queued.
 * No program is named: a worker finds its own ffmpeg, as it would for a local batch.
 */
export interface ItemJobData extends Omit<BatchRequest, 'ffmpeg'> {
  readonly itemIndex: number;
  readonly itemKey: string;
}

/** Plans a request as `flowedit batch` does. */
export async function planRequest(r: BatchRequest): Promise<BatchPlan> {
  const pack = await findPack(r.packDir);
  const manifest = await readManifest(r.manifest);
  const items = manifest.items.map((i) => (i.preset === undefined && r.preset !== undefined ? { ...i, preset: r.preset } : i));
  return planBatch({ ...manifest, items }, pack, {
    outDir: r.outDir,
    batchSeed: r.batchSeed,
    flags: r.flags,
    allowInputsOutside: r.allowInputsOutside,
    ...(r.maxInputPixels !== undefined ? { maxInputPixels: r.maxInputPixels } : {}),
    ...(r.ffmpeg !== undefined ? { ffmpeg: r.ffmpeg } : {}),
  });
}

/** Hash of an item's output files and their keys: a changed input, setting or name changes it. Hex, so it is also the item's job id. */
export function itemKeyOf(item: PlannedItem): string {
  return createHash('sha256')
    .update(JSON.stringify(item.outputs.map((o) => [o.file, o.key])))
    .digest('hex');
}

/** The job data of each item of a plan. */
export function itemJobs(plan: BatchPlan, r: BatchRequest): { id: string; item: PlannedItem; data: ItemJobData }[] {
  return plan.items.map((item) => {
    const itemKey = itemKeyOf(item);
    const { ffmpeg: _local, ...request } = r;
    return { id: itemKey, item, data: { ...request, itemIndex: plan.items.indexOf(item), itemKey } };
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The job's data, checked field by field (an unknown field, a relative path or a wrong type is refused). */
export function readItemJobData(data: unknown): ItemJobData {
  if (!isObject(data)) throw new Error('the job holds no batch item (expected an object)');
  const known = ['manifest', 'outDir', 'packDir', 'flags', 'preset', 'batchSeed', 'maxInputPixels', 'allowInputsOutside', 'itemIndex', 'itemKey'];
  const extra = Object.keys(data).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new Error(`the job has unknown fields ${extra.join(', ')}; expected ${known.join(', ')}`);
  const path = (k: string, optional = false): string | undefined => {
    const v = data[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || !isAbsolute(v) || v.includes('\0')) throw new Error(`the job's ${k} must be an absolute path`);
    return resolve(v);
  };
  const int = (k: string, min: number, optional = false): number | undefined => {
    const v = data[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`the job's ${k} must be an integer of at least ${min}`);
    return v;
  };
  if (!isObject(data.flags)) throw new Error("the job's flags must be an object of settings");
  const flags = readRecipe(Object.fromEntries(Object.entries(data.flags).filter(([, v]) => v !== undefined && v !== null)), "the job's flags");
  if (typeof data.allowInputsOutside !== 'boolean') throw new Error("the job's allowInputsOutside must be true or false");
  if (typeof data.itemKey !== 'string' || !/^[0-9a-f]{64}$/.test(data.itemKey)) throw new Error("the job's itemKey must be 64 hex digits");
  if (data.preset !== undefined && (typeof data.preset !== 'string' || data.preset === '')) throw new Error("the job's preset must be a preset name or an absolute path");
  if (typeof data.preset === 'string' && /[/\\]/.test(data.preset) && !isAbsolute(data.preset)) throw new Error("the job's preset path must be absolute");
  const preset = data.preset as string | undefined;
  const maxInputPixels = int('maxInputPixels', 1, true);
  return {
    manifest: path('manifest')!,
    outDir: path('outDir')!,
    packDir: path('packDir')!,
    flags,
    ...(preset !== undefined ? { preset } : {}),
    batchSeed: int('batchSeed', 0)!,
    ...(maxInputPixels !== undefined ? { maxInputPixels } : {}),
    allowInputsOutside: data.allowInputsOutside,
    itemIndex: int('itemIndex', 0)!,
    itemKey: data.itemKey,
  };
}

/** The request part of a job (what its plan depends on), as a cache key. */
export function requestKey(r: BatchRequest): string {
  const { manifest, outDir, packDir, flags, preset, batchSeed, maxInputPixels, allowInputsOutside, ffmpeg } = r;
  return JSON.stringify([manifest, outDir, packDir, flags, preset ?? null, batchSeed, maxInputPixels ?? null, allowInputsOutside, ffmpeg ?? null]);
}
