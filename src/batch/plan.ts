/**
 * From a manifest to a plan: every item's preset, settings, seed and output paths resolved and
 * checked before the first item runs. All problems are reported together.
 * Precedence per item: flowedit's defaults < pack defaults < preset < item < command-line flag.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { sha256File } from '../media/file-bytes.js';
import type { Settings } from '../edit/frames/settings.js';
import { findFfmpeg, type FfmpegTools } from '../media/ffmpeg-tools.js';
import { isMaskImagePath, type MaskOptions } from '../media/mask.js';
import { isVideoPath } from '../media/video.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../media/limits.js';
import type { GroupSource } from '../model/layer-groups.js';
import type { PackInfo } from '../model/pack.js';
import { checkEditable, checkMaskFor, checkPrompts, checkSharing, inspectInput, settingsOfRecipe } from '../jobs/checks.js';
import type { JobSpec } from '../jobs/job.js';
import { assertInputInside, assertOutputInside, type InputRule } from './confine.js';
import type { Manifest, ManifestItem, ManifestTarget } from './manifest.js';
import { findPreset, type Preset } from '../jobs/presets.js';
import { reportPath } from './report.js';
import { mergeRecipes, type Recipe, type RecipeCommand } from '../settings/recipe.js';
import { itemSeed } from './seeds.js';
import { inShard, type Shard } from './shard.js';

/** Commands a batch item can run, and what each makes from an item. */
const BATCH_COMMANDS: Partial<Record<RecipeCommand, { readonly targets: 'required' | 'none'; readonly outputs: (item: ManifestItem) => readonly ManifestTarget[] }>> = {
  edit: { targets: 'required', outputs: (item) => item.targets },
  reconstruct: { targets: 'none', outputs: () => [{ code: 'rec', prompt: '' }] },
  swap: { targets: 'required', outputs: (item) => item.targets },
};

export type BatchCommand = 'edit' | 'reconstruct' | 'swap';

/** Commands whose outputs follow a target prompt. */
const TARGETED: readonly BatchCommand[] = ['edit', 'swap'];


export interface PlannedOutput {
  readonly code: string;
  /** edit, swap: the target prompt; reconstruct: none */
  readonly targetPrompt?: string;
  /** absolute paths inside the output folder: a PNG for a still, an MP4 for a clip */
  readonly file: string;
  readonly sidecar: string;
  /** hash of everything that decides the output's bytes; a changed key means redo */
  readonly key: string;
}

export interface PlannedItem {
  /** the largest image or frame the item may read (--max-input-pixels), when not the default */
  readonly maxInputPixels?: number;
  readonly index: number;
  readonly id: string;
  readonly label: string;
  readonly command: BatchCommand;
  /** the output folder: every output must really lie inside it (checked again before each write) */
  readonly outDir: string;
  readonly input: string;
  readonly inputSha256: string;
  /** the input is a clip: its frame count (outputs are MP4 files at its size, rate and frame count) */
  readonly clip?: { readonly frames: number };
  /** ffmpeg and ffprobe, for items with a clip or a mask video */
  readonly tools?: FfmpegTools;
  /** swap: the mask (white = edit), its hash, and how it is grown and feathered */
  readonly mask?: string;
  readonly maskSha256?: string;
  readonly maskOptions?: MaskOptions;
  readonly sourcePrompt: string;
  /** swap: the prompt the guidance steers away from, when the item gives one */
  readonly negativePrompt?: string;
  readonly preset?: string;
  readonly settings: Settings;
  readonly outputs: readonly PlannedOutput[];
  /** the job the item runs, checked as a command's is; its outputs are its targets */
  readonly job: JobSpec;
}

export interface BatchPlan {
  readonly manifest: string;
  readonly outDir: string;
  readonly model: string;
  readonly packDir: string;
  readonly batchSeed: number;
  readonly items: readonly PlannedItem[];
  /** --shard: the items are this shard's only */
  readonly shard?: Shard;
}

export interface PlanOptions {
  readonly outDir: string;
  readonly batchSeed: number;
  /** settings given on the command line: they win over presets and items */
  readonly flags: Recipe;
  /** the ffmpeg binary for clips (default: found as flowedit finds it) */
  readonly ffmpeg?: string;
  /** inputs and masks may lie outside the manifest's folder (also when the manifest says so) */
  readonly allowInputsOutside?: boolean;
  /** the largest image or frame an item may read (default DEFAULT_MAX_INPUT_PIXELS), checked before decoding */
  readonly maxInputPixels?: number;
  /** keep only this shard's items (every item is still planned and checked) */
  readonly shard?: Shard;
}

async function fileSha256(path: string, what: string): Promise<string> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`${what} not found: ${path}`);
  if (!st.isFile()) throw new Error(`${what} is not a file: ${path}`);
  return sha256File(path).catch((err: Error) => {
    throw new Error(`Cannot read ${what.toLowerCase()} ${path}: ${err.message}`);
  });
}

/** `name` resolved inside `outDir` as written (links are checked by assertOutputInside), or an error naming the escape. */
export function insideOutDir(outDir: string, name: string): string {
  const path = resolve(outDir, name);
  const rel = relative(outDir, path);
  if (isAbsolute(name) || rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new Error(`output "${name}" would be written outside the output folder ${outDir}; use an id without ".." or a leading "/"`);
  }
  return path;
}

/** SHA-256 of a mask folder: each image's name and bytes, in name order. */
async function folderSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(path)).filter(isMaskImagePath).sort()) {
    hash.update(name).update(await fileSha256(join(path, name), 'Mask frame'));
  }
  return hash.digest('hex');
}

/**
 * The mask's hash, after the checks a swap command makes of it against its source (a still, or
 * a clip of `clip.frames` frames); a folder or video mask only for clips.
 */
async function planMask(path: string, clip: { readonly frames: number } | undefined, o: { readonly maxInputPixels: number; readonly ffmpeg?: string | undefined }): Promise<string> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`Mask not found: ${path}`);
  const perFrame = st.isDirectory() || isVideoPath(path);
  if (!perFrame && !isMaskImagePath(path)) throw new Error(`mask ${path}: expected an image (PNG, JPEG, WebP, BMP or TIFF), or for a clip a folder of per-frame images or a mask video`);
  if (perFrame && !clip) throw new Error(`mask ${path} has a mask per frame, but the input is a still: give one mask image`);
  // a mask that selects nothing is refused with the other problems, before any item runs
  await checkMaskFor(path, clip?.frames ?? 1, { ...o, invert: false });
  return st.isDirectory() ? folderSha256(path) : fileSha256(path, 'Mask');
}

function outputKey(fields: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

/** Settings as an output's key holds them: shareText only when on, so outputs made before it existed keep their keys. */
function keySettings(s: Settings): Omit<Settings, 'shareText'> & { shareText?: true } {
  const { shareText, ...rest } = s;
  return shareText ? { ...rest, shareText } : rest;
}

async function planItem(
  item: ManifestItem,
  pack: PackInfo,
  o: PlanOptions,
  inputs: InputRule,
  presetFor: (ref: string) => Promise<Preset>,
  tools: () => Promise<FfmpegTools>,
): Promise<PlannedItem> {
  // 1. the recipe: preset < item < flags
  const preset = item.preset !== undefined ? await presetFor(item.preset) : undefined;
  const recipe = mergeRecipes(preset?.recipe ?? {}, item.recipe, o.flags);
  const command = recipe.command ?? 'edit';
  const kind = BATCH_COMMANDS[command];
  if (!kind) throw new Error(`command "${command}"${preset ? ` (from preset ${preset.name})` : ''} cannot run in a batch; batch runs ${Object.keys(BATCH_COMMANDS).join(' and ')} items`);
  // 2. files: the input (a still, or a clip probed for its frames; either within the pixel limit and
  // complete), and the mask for a swap,
  // each inside the manifest's folder by real path unless the manifest allows otherwise
  const limit = o.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  await assertInputInside(inputs, item.input, 'input');
  if (item.mask !== undefined) await assertInputInside(inputs, item.mask, 'mask');
  const inputSha256 = await fileSha256(item.input, 'Input');
  const input = await inspectInput(item.input, o.ffmpeg, { maxInputPixels: limit });
  if (input.kind === 'inversion') throw new Error(`input ${item.input} is an inversion file; a batch item's input is an image or a clip: give the image or clip it was inverted from`);
  const clip = input.kind === 'video' ? { frames: input.frames } : undefined;
  let mask: { path: string; sha256: string } | undefined;
  if (command === 'swap') {
    if (item.mask === undefined) {
      const by = preset?.recipe.command === 'swap' ? ` (preset ${preset.name} is a swap)` : '';
      throw new Error(`command "swap" needs "mask"${by}: add mask: FILE to the item, an image (or for a clip, a folder of per-frame images or a mask video), white where the edit goes`);
    }
    mask = { path: item.mask, sha256: await planMask(item.mask, clip, { maxInputPixels: limit, ffmpeg: o.ffmpeg }) };
  } else if (item.mask !== undefined) {
    await fileSha256(item.mask, 'Mask');
    throw new Error(`command "${command}" takes no mask (masks are for swap); remove "mask" or choose a swap preset`);
  }
  // 3. prompts and settings, checked against the pack
  if (kind.targets === 'required' && item.targets.length === 0) throw new Error(`command "${command}" needs "targets": a mapping of output codes to target prompts`);
  if (kind.targets === 'none' && item.targets.length > 0) throw new Error(`command "${command}" takes no targets; remove "targets" or use an edit preset`);
  const targeted = TARGETED.includes(command as BatchCommand);
  if (targeted) await checkEditable(pack);
  const negative = item.negativePrompt;
  const negativeField = negative !== undefined ? { negativePrompt: negative } : {};
  if (negative !== undefined && command !== 'swap' && command !== 'edit') throw new Error(`command "${command}" takes no negativePrompt (it steers the guidance of an edit or a swap); remove it or choose an edit or swap preset`);
  const prompts = [
    { text: item.sourcePrompt, what: 'sourcePrompt' },
    ...(negative !== undefined ? [{ text: negative, what: 'negativePrompt' }] : []),
    ...item.targets.map((t) => ({ text: t.prompt, what: `targets.${t.code}` })),
  ];
  await checkPrompts(pack, prompts, { text: negative });
  const seed = recipe.seed ?? itemSeed(o.batchSeed, item.id);
  // an edit's negative prompt is one of its settings (a swap's rides with its prompts)
  // who named a layer group, if one did: the command line, else the item, else its preset
  const layersFrom: GroupSource | undefined = o.flags.shareLayers !== undefined ? { kind: 'flag' } : item.recipe.shareLayers !== undefined ? { kind: 'item' } : preset ? { kind: 'preset', name: preset.name } : undefined;
  const settings = await settingsOfRecipe(pack, command, recipe, layersFrom, { seed, ...(command === 'edit' ? { negativePrompt: negative } : {}) });
  if (targeted) await checkSharing(pack, settings);
  const maskOptions: MaskOptions | undefined = mask ? { grow: settings.maskGrow, feather: settings.maskFeather, invert: false } : undefined;
  // 4. outputs: deterministic names inside the output folder
  const outputs = kind.outputs(item).map((t): PlannedOutput => {
    const file = insideOutDir(o.outDir, `${item.id}-${t.code}${clip ? '.mp4' : '.png'}`);
    const key = outputKey({
      command,
      model: pack.manifest.id,
      inputSha256,
      sourcePrompt: item.sourcePrompt,
      targetPrompt: targeted ? t.prompt : null,
      ...negativeField,
      settings: keySettings(settings),
      ...(mask ? { maskSha256: mask.sha256, mask: maskOptions } : {}),
    });
    return { code: t.code, ...(targeted ? { targetPrompt: t.prompt } : {}), file, sidecar: file.replace(/\.(png|mp4)$/, '.json'), key };
  });
  // no link inside the output folder may lead a write outside it
  for (const out of outputs) for (const f of [out.file, out.sidecar]) await assertOutputInside(o.outDir, f);
  const job = jobOf(command as BatchCommand, pack, o, { input: item.input, clip, sourcePrompt: item.sourcePrompt, negative, settings, mask: mask && maskOptions ? { path: mask.path, options: maskOptions } : undefined }, outputs[0]!);
  return {
    ...(o.maxInputPixels !== undefined ? { maxInputPixels: o.maxInputPixels } : {}),
    index: item.index,
    id: item.id,
    label: item.label,
    command: command as BatchCommand,
    outDir: o.outDir,
    input: item.input,
    inputSha256,
    ...(clip ? { clip } : {}),
    ...(clip || (mask && isVideoPath(mask.path)) ? { tools: await tools() } : {}),
    ...(mask && maskOptions ? { mask: mask.path, maskSha256: mask.sha256, maskOptions } : {}),
    sourcePrompt: item.sourcePrompt,
    ...negativeField,
    ...(preset ? { preset: preset.name } : {}),
    settings,
    outputs,
    job,
  };
}

/**
 * The job an item runs, as a command would run it on its first output; the runner is handed every
 * pending output as a target of this one job (one inversion, or one prepared swap source).
 */
function jobOf(
  command: BatchCommand,
  pack: PackInfo,
  o: PlanOptions,
  at: { input: string; clip: { frames: number } | undefined; sourcePrompt: string; negative: string | undefined; settings: Settings; mask: { path: string; options: MaskOptions } | undefined },
  first: PlannedOutput,
): JobSpec {
  const base = {
    packDir: pack.dir,
    input: at.input,
    output: first.file,
    ...(o.ffmpeg !== undefined ? { ffmpeg: o.ffmpeg } : {}),
    ...(o.maxInputPixels !== undefined ? { maxInputPixels: o.maxInputPixels } : {}),
  };
  const inputIsVideo = at.clip !== undefined;
  const s = at.settings;
  if (command === 'reconstruct') return { ...base, kind: 'reconstruct', seed: s.seed, from: { inputIsVideo, sourcePrompt: at.sourcePrompt, settings: s } };
  const targetPrompt = first.targetPrompt ?? '';
  if (command === 'edit') return { ...base, kind: 'edit', inputIsInversion: false, inputIsVideo, sourcePrompt: at.sourcePrompt, targetPrompt, settings: s };
  const negative = at.negative !== undefined ? { negativePrompt: at.negative } : {};
  return { ...base, kind: 'swap', inputIsInversion: false, inputIsVideo, mask: at.mask!.path, maskOptions: at.mask!.options, sourcePrompt: at.sourcePrompt, targetPrompt, ...negative, settings: s };
}

/** Plans every item; throws one error listing every problem when any item is invalid. */
export async function planBatch(manifest: Manifest, pack: PackInfo, o: PlanOptions): Promise<BatchPlan> {
  const presets = new Map<string, Promise<Preset>>();
  const presetFor = (ref: string) => {
    if (!presets.has(ref)) presets.set(ref, findPreset(ref, manifest.dir));
    return presets.get(ref)!;
  };
  // ffmpeg is looked for once, and only when an item has a clip or a mask video
  let found: Promise<FfmpegTools> | undefined;
  const tools = () => (found ??= findFfmpeg(o.ffmpeg));
  const outDir = resolve(o.outDir);
  const inputs: InputRule = { dir: manifest.dir, allowOutside: manifest.allowInputsOutside || o.allowInputsOutside === true };
  const problems: string[] = [];
  await assertOutputInside(outDir, reportPath(outDir, o.shard)).catch((err: Error) => problems.push(`the report: ${err.message}`));
  const items: PlannedItem[] = [];
  for (const item of manifest.items) {
    try {
      items.push(await planItem(item, pack, { ...o, outDir }, inputs, presetFor, tools));
    } catch (err) {
      problems.push(`${item.label}: ${(err as Error).message}`);
    }
  }
  const owners = new Map<string, string>();
  for (const item of items) {
    for (const out of item.outputs) {
      const other = owners.get(out.file);
      if (other) problems.push(`${item.label}: writes ${relative(outDir, out.file)}, as ${other} does; give the items distinct ids`);
      else owners.set(out.file, item.label);
    }
  }
  if (problems.length > 0) {
    const n = problems.length;
    throw new Error(`${manifest.file} has ${n} problem${n > 1 ? 's' : ''} (nothing was run):\n  - ${problems.join('\n  - ')}`);
  }
  const shard = o.shard;
  const kept = shard ? items.filter((item) => inShard(item.index, shard)) : items;
  return { manifest: manifest.file, outDir, model: pack.manifest.id, packDir: pack.dir, batchSeed: o.batchSeed, items: kept, ...(shard ? { shard } : {}) };
}
