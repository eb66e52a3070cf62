/** Checks every task makes before a model loads: the pack, the input, the output, the settings. */
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { assertWritable } from '../media/atomic-file.js';
import { findFfmpeg } from '../media/ffmpeg-tools.js';
import { assertStillReadable, imageSize } from '../media/image.js';
import { assertInputPixels } from '../media/limits.js';
import { assertMaskCovers, assertMaskFrames, maskFrameCount, readMask } from '../media/mask.js';
import { planSharing } from '../attention/plan.js';
import { assertEditable } from '../edit/latent/edit.js';
import { assertNegativePromptFits, assertPromptsFit } from '../edit/latent/velocity.js';
import { assertClipReadable, assertVideoOutputName, isVideoPath, probeVideo } from '../media/video.js';
import { findPack } from '../model/home.js';
import { pickDevice, type Device } from '../model/devices.js';
import { assertDeviceInstalled } from '../model/ort.js';
import type { PackInfo } from '../model/pack.js';
import { quotedPrompt } from '../model/text.js';
import { resolveSettings, type Settings } from '../edit/frames/settings.js';
import { readHead, sha256File } from '../media/file-bytes.js';
import { isInversionBuffer, readInversionHeader, type InversionHeader } from '../edit/frames/inversion-file.js';
import { assertSameModel } from '../edit/frames/pipeline.js';
import { checkOverlap, checkWindow } from '../edit/frames/windows.js';
import type { Manifest } from '../model/manifest.js';
import { EXIT, UserError } from './errors.js';
import { findPreset, type Preset } from './presets.js';
import { mergeRecipes, type Recipe } from '../settings/recipe.js';
import type { GroupSource } from '../model/layer-groups.js';
import { parseLayerList } from './layer-list.js';
import type { CommonRequest, EditRequest, ModelRequest, SharingRequest, SolverRequest, SwapRequest, VideoRequest } from './request.js';

/** The request's values that are settings (and --auto-mask, --mask-bias, --mask-grow, --mask-feather). */
export type SettingRequest = SolverRequest & SharingRequest & Pick<EditRequest, 'autoMask'> & Pick<SwapRequest, 'maskBias' | 'maskGrow' | 'maskFeather'>;

/** Runs a check, turning its error into a UserError (no stack trace). */
export async function userCheck<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

export function resolvePack(args: Pick<ModelRequest, 'model'>): Promise<PackInfo> {
  return userCheck(() => findPack(args.model));
}

/** Where and with how many threads the model runs: --threads, and --device or FLOWEDIT_DEVICE (checked against this install's providers). */
export interface ModelFlags {
  readonly threads?: number;
  readonly device?: Device;
}

export function checkModelFlags(args: ModelRequest): ModelFlags {
  const t = args.threads;
  if (t !== undefined && !(Number.isInteger(t) && t > 0)) throw new UserError(`Expected a positive integer for --threads but received ${t}`);
  let device: Device;
  try {
    device = pickDevice(args.device);
  } catch (err) {
    throw new UserError((err as Error).message, EXIT.usage);
  }
  try {
    assertDeviceInstalled(device);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  return { ...(t !== undefined ? { threads: t } : {}), ...(device !== 'cpu' ? { device } : {}) };
}

/** The clip flags every video command takes, checked before anything is read. */
export function checkVideoFlags(a: VideoRequest): void {
  try {
    checkOverlap(a.overlap);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

/** --window against the pack's frame rules, before any input is read. */
export function checkPackWindow(a: VideoRequest, pack: { readonly manifest: Manifest }): void {
  try {
    checkWindow(a.window, pack.manifest);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

/** The input must be a readable file; returns whether it is an inversion file. */
export async function checkInput(path: string): Promise<{ isInversion: boolean }> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new UserError(`Input not found: ${path}`);
  if (!st.isFile()) throw new UserError(`Input is not a file: ${path}`);
  const head = await readHead(path, 8).catch((err: Error) => {
    throw new UserError(`Cannot read ${path}: ${err.message}`);
  });
  return { isInversion: isInversionBuffer(head) };
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

/** The request's settings as a recipe (the top layer of the precedence). */
export function requestRecipe(a: SettingRequest): Recipe {
  const layers = a.shareLayers;
  return {
    steps: a.steps,
    solver: a.solver,
    guidance: a.guidance,
    guideAgainst: a.guideAgainst,
    shareLayers: layers === undefined ? undefined : typeof layers === 'string' ? parseLayerList(layers) : [...layers],
    shareSteps: a.shareSteps,
    fit: a.fit,
    seed: a.seed,
    maskBias: a.maskBias,
    maskGrow: a.maskGrow,
    maskFeather: a.maskFeather,
    autoMask: a.autoMask,
    shareText: a.shareText,
    shift: a.shift,
  };
}

/** The preset named by --preset, if any. */
export function presetFrom(a: { readonly preset?: string | undefined }): Promise<Preset | undefined> {
  const ref = a.preset;
  return ref === undefined ? Promise.resolve(undefined) : userCheck(() => findPreset(ref));
}

/**
 * A masked swap and an edit everywhere take different recipes: a preset written for one is
 * refused by the other (its layer set and guidance were chosen for the other task).
 */
export function assertPresetFor(preset: Preset | undefined, ref: string | undefined, command: string): void {
  const made = preset?.recipe.command;
  if (made === undefined || made === command) return;
  if (command === 'swap' || (command === 'edit' && made === 'swap')) {
    const instead =
      command === 'swap'
        ? 'give a swap preset (e.g. swap-object), or leave --preset out'
        : 'run flowedit swap with --mask FILE (white = edit) to use it, give an edit preset (e.g. recolor), or leave --preset out';
    throw new UserError(`Preset "${ref}" is written for flowedit ${made}, not ${command}: ${instead} (flowedit presets list shows which command each is for)`, EXIT.usage);
  }
}

/** The recipe `command` runs with: --preset, overridden by the flags given. */
export async function recipeFrom(a: SettingRequest & { readonly preset?: string | undefined }, command?: string): Promise<Recipe> {
  const preset = await presetFrom(a);
  if (command !== undefined) assertPresetFor(preset, a.preset, command);
  return mergeRecipes(preset?.recipe ?? {}, requestRecipe(a));
}

/** Who may have named a layer group for --share-layers' setting: the flag itself, else --preset. */
export function groupSourceOf(a: Pick<SharingRequest, 'shareLayers'> & { readonly preset?: string | undefined }): GroupSource | undefined {
  if (a.shareLayers !== undefined) return { kind: 'flag' };
  return a.preset !== undefined ? { kind: 'preset', name: a.preset } : undefined;
}

/** Resolves settings for `task`: flowedit's defaults < pack defaults < --preset < flags (--negative-prompt among them). */
export async function settingsFrom(pack: PackInfo, task: string, a: SettingRequest & { readonly preset?: string | undefined; readonly negativePrompt?: string | undefined }): Promise<Settings> {
  return settingsOfRecipe(pack, task, await recipeFrom(a, task), groupSourceOf(a), { negativePrompt: a.negativePrompt });
}

/**
 * A merged recipe's settings for `task` over the pack's defaults; `from` says who named a layer
 * group, `extra` adds an edit's negative prompt and a seed fixed elsewhere (a batch's).
 */
export function settingsOfRecipe(pack: PackInfo, task: string, recipe: Recipe, from: GroupSource | undefined, extra: { negativePrompt?: string | undefined; seed?: number } = {}): Promise<Settings> {
  const { negativePrompt, seed } = extra;
  return userCheck(() => resolveSettings(pack.manifest, task, { ...recipe, shareLayersFrom: from, ...(seed !== undefined ? { seed } : {}), ...(negativePrompt !== undefined ? { negativePrompt } : {}) }));
}

/** An edit or a swap needs a pack that edits (one whose transformer shares attention). */
export function checkEditable(pack: PackInfo): Promise<void> {
  return userCheck(() => assertEditable(pack));
}

/**
 * Every prompt fits the pack's text encoder; with `negative`, the pack also has a second guidance
 * branch to steer away from it.
 */
export async function checkPrompts(pack: PackInfo, prompts: readonly { readonly text: string; readonly what: string }[], negative?: { readonly text: string | undefined }): Promise<void> {
  await userCheck(() => assertPromptsFit(pack, prompts));
  if (negative) await userCheck(() => assertNegativePromptFits(pack, negative.text));
}

/** The shared layers and steps fit the pack's transformer and the run's steps. */
export function checkSharing(pack: PackInfo, s: Pick<Settings, 'shareLayers' | 'shareSteps' | 'steps'>): Promise<unknown> {
  return userCheck(() => planSharing({ layers: s.shareLayers, fraction: s.shareSteps }, pack.manifest.transformer.contextLayers, s.steps));
}

/**
 * A swap's mask against its source of `frames` frames: within the pixel limit, selecting some
 * pixel (with `invert`, not every one), and with a frame count that agrees with the source's.
 */
export async function checkMaskFor(mask: string, frames: number, o: MaskCheckOptions): Promise<void> {
  await checkMaskAhead(mask, o).fits(frames);
}

export interface MaskCheckOptions {
  readonly maxInputPixels: number;
  readonly ffmpeg?: string | undefined;
  readonly invert: boolean;
}

/**
 * checkMaskFor in two parts: the mask is read now (its pixel limit, that it selects something),
 * beside the checks of the input, and `fits` then checks its frame count against the input's.
 * A failure of the reading is reported by `fits`, so a command reports its problems in the same
 * order as with checkMaskFor.
 */
export function checkMaskAhead(mask: string, o: MaskCheckOptions): { fits(frames: number): Promise<void> } {
  const reading = checkInputPixels(mask, o.maxInputPixels, o.ffmpeg).then(() => inspectMask(mask, o.ffmpeg, o.invert));
  reading.catch(() => undefined); // reported where fits awaits it, not as an unhandled rejection
  return {
    async fits(frames) {
      const maskFrames = await reading;
      // declared counts must agree; decoding may then drop a frame or two of either, which prepareMask absorbs
      await userCheck(() => assertMaskFrames(maskFrames, frames));
    },
  };
}

/**
 * Guidance against the source prompt needs one: without it the guidance would steer from an
 * empty caption and the edit comes out as noise. `inversion` names the inversion file the source
 * prompt came from, when it did.
 */
export function assertSourcePromptFor(settings: Pick<Settings, 'guideAgainst'>, sourcePrompt: string, flagGiven: boolean, inversion?: string): void {
  if (settings.guideAgainst !== 'source' || sourcePrompt.trim() !== '') return;
  const why = `the guidance steers away from the source prompt (--guide-against source${flagGiven ? '' : ', the default here'})`;
  if (inversion !== undefined) {
    throw new UserError(`${inversion} was inverted with no source prompt, but ${why}: invert the input again with --source-prompt "<caption of the input>", or pass --guide-against empty`);
  }
  throw new UserError(`No --source-prompt was given, but ${why}: give the caption of the input with --source-prompt, or pass --guide-against empty`);
}

/** A file's real path, also for one that does not exist yet (then its folder's real path). */
async function realPathOf(path: string): Promise<string> {
  const direct = await realpath(path).catch(() => null);
  if (direct !== null) return direct;
  const dir = await realpath(dirname(resolve(path))).catch(() => dirname(resolve(path)));
  return join(dir, basename(path));
}

export interface WriteTargets {
  /** the files a command writes, by the flag that names each */
  readonly outputs: readonly { readonly path: string; readonly flag: string }[];
  /** the files it reads (the input, a mask, an inversion's source) */
  readonly inputs: readonly { readonly path: string; readonly what: string }[];
  /** --force: an existing output may be replaced */
  readonly force: boolean;
}

/**
 * Before any work: no output is one of the inputs or another output (compared by real path,
 * so `./a.png`, `a.png` and a link to it are one file), and an existing output is replaced only
 * with --force.
 */
export async function checkWriteTargets(t: WriteTargets): Promise<void> {
  const inputs = await Promise.all(t.inputs.map(async (i) => ({ ...i, real: await realPathOf(i.path) })));
  const seen: { path: string; flag: string; real: string }[] = [];
  for (const o of t.outputs) {
    const real = await realPathOf(o.path);
    const input = inputs.find((i) => i.real === real);
    if (input) {
      throw new UserError(`${o.flag} ${o.path} is ${input.what} ${input.path} (the same file): flowedit does not overwrite what it reads; choose another output name`);
    }
    const twice = seen.find((s) => s.real === real);
    if (twice) throw new UserError(`${twice.flag} ${twice.path} and ${o.flag} ${o.path} are the same file: give each its own name`);
    seen.push({ ...o, real });
    if (!t.force && (await stat(o.path).then((st) => st.isFile(), () => false))) {
      throw new UserError(`${o.path} already exists: pass --force to overwrite it, or choose another name for ${o.flag}`);
    }
  }
}

const IMAGE_FILE = /\.(png|jpe?g|webp)$/i;

/**
 * Refuses an image, a clip, or a folder of per-frame images whose frames hold more than `limit`
 * pixels, from their headers alone (nothing is decoded). A missing file is left to the input checks.
 */
export async function checkInputPixels(path: string, limit: number, ffmpeg?: string): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (!st) return;
  const files = st.isDirectory() ? (await readdir(path)).filter((f) => IMAGE_FILE.test(f)).sort().map((f) => join(path, f)) : [path];
  for (const file of files) {
    const size = isVideoPath(file) ? await userCheck(async () => probeVideo(file, await findFfmpeg(ffmpeg))) : await userCheck(() => imageSize(file));
    await userCheck(() => assertInputPixels(file, size.width, size.height, limit));
  }
}

/** The job fields a command passes on only when given: threads and device, and for clips ffmpeg, overlap and window. */
export function jobExtras(a: VideoRequest & Pick<CommonRequest, 'recordPaths'>, model: ModelFlags): ModelFlags & { ffmpeg?: string; overlap?: number; window?: number; recordPaths?: boolean } {
  return {
    ...model,
    ...(a.recordPaths ? { recordPaths: true } : {}),
    ...(a.ffmpeg ? { ffmpeg: a.ffmpeg } : {}),
    ...(a.overlap !== undefined ? { overlap: a.overlap } : {}),
    ...(a.window !== undefined ? { window: a.window } : {}),
  };
}

export type MediaKind = 'image' | 'video' | 'inversion';

/**
 * What an input is (image, clip or inversion file) and its frame count, checked before any model
 * loads: a clip is probed with ffprobe and its packets counted (a truncated file is refused, and
 * one whose frames are unevenly spaced in time, with how to convert it), an
 * image's header is read and its pixels decoded once without being kept (a truncated or corrupt
 * file is refused); either is refused when its frames hold more than `maxInputPixels`.
 */
export async function inspectInput(path: string, ffmpeg?: string, opts: { maxInputPixels?: number } = {}): Promise<{ kind: MediaKind; frames: number }> {
  const { isInversion } = await checkInput(path);
  if (isInversion) return { kind: 'inversion', frames: 0 };
  if (isVideoPath(path)) {
    const tools = await userCheck(() => findFfmpeg(ffmpeg));
    const info = await userCheck(() => assertClipReadable(path, tools, opts.maxInputPixels));
    return { kind: 'video', frames: info.frames };
  }
  await userCheck(() => assertStillReadable(path, opts.maxInputPixels));
  return { kind: 'image', frames: 1 };
}

/**
 * A mask's declared frame count (1 for a still), after checking that it selects some pixel (with
 * `invert`, that it is not edit everywhere): the mask is decoded here, before any model loads
 * (masks are small). Only a mask video needs ffmpeg.
 */
export async function inspectMask(path: string, ffmpeg?: string, invert = false): Promise<number> {
  const tools = isVideoPath(path) ? await userCheck(() => findFfmpeg(ffmpeg)) : undefined;
  const frames = await userCheck(() => maskFrameCount(path, tools));
  await userCheck(async () => assertMaskCovers(await readMask(path, tools ? { tools } : {}), invert));
  return frames;
}

/** Clips are written as H.264 video, stills as PNG: the output's name must say which. */
export async function checkMediaOutput(path: string, video: boolean, ffmpeg?: string): Promise<void> {
  if (!video) return checkPngOutput(path);
  await userCheck(() => assertVideoOutputName(path));
  await checkOutput(path);
  await userCheck(() => findFfmpeg(ffmpeg));
}

/**
 * An inversion file given as input: its header, checked against the pack. The file fixes the
 * steps, solver and source prompt, so flags that disagree with it are refused.
 */
export async function inversionInput(
  a: Pick<SolverRequest, 'steps' | 'solver' | 'shift'> & { readonly input: string; readonly sourcePrompt?: string | undefined },
  pack: PackInfo,
  command: string,
): Promise<InversionHeader> {
  const header = await userCheck(() => readInversionHeader(a.input));
  await userCheck(() => assertSameModel(pack, header));
  const fixed = header.settings;
  const clash = (flag: string, given: unknown, stored: unknown) => {
    if (given !== undefined && given !== stored) {
      const shown = (v: unknown) => (typeof v === 'string' ? quotedPrompt(v) : JSON.stringify(v));
      throw new UserError(`${a.input} was inverted with ${flag} ${shown(stored)}; ${flag} ${shown(given)} cannot change that: drop the flag, or ${command} the image or clip itself to invert again`);
    }
  };
  clash('--steps', a.steps, fixed.steps);
  clash('--solver', a.solver, fixed.solver);
  clash('--source-prompt', a.sourcePrompt, fixed.sourcePrompt);
  if (a.shift !== undefined && a.shift !== fixed.shift) {
    const was = fixed.shift === undefined ? "the pack's schedule" : `--shift ${fixed.shift}`;
    throw new UserError(`${a.input} was inverted with ${was}; --shift ${a.shift} cannot change its schedule: drop the flag, or ${command} the image or clip itself to invert again`);
  }
  return header;
}

/**
 * A swap (or an edit in an automatic mask) from an inversion keeps the source's pixels outside
 * the mask, so the source must still be where it was, unchanged.
 */
export async function assertSourceUnchanged(header: InversionHeader, command: 'swap' | 'edit' = 'swap'): Promise<void> {
  const path = header.source.path;
  const now = await sha256File(path).catch(() => null);
  const what = command === 'swap' ? 'a swap' : 'an edit with --auto-mask';
  if (now === null) throw new Error(`The inversion's source ${path} cannot be read; ${what} keeps the source's pixels outside the mask, so it needs that file: put it back, or ${command} the image or clip itself`);
  if (now !== header.source.sha256) throw new Error(`${path} changed since it was inverted: ${command} the image or clip itself, or invert it again`);
}
