/**
 * The benchmark's sections, each run through the same library the command line uses.
 * Every figure is a mean over the cases measured (PSNR: mean of per-case PSNR; shares: the
 * fraction of cases that pass). Definitions of the measures: metrics.ts and classify.ts.
 */
import { performance } from 'node:perf_hooks';
import { textEditFrames } from '../../src/edit/frames/auto-edit.js';
import { generateFrames } from '../../src/edit/frames/generate.js';
import { invertLatent } from '../../src/edit/latent/invert.js';
import { decodeFrames, encodeFrames } from '../../src/edit/frames/latents.js';
import { reconstructLatent } from '../../src/edit/latent/sample.js';
import { resolveSettings, type SettingOptions, type Settings } from '../../src/edit/frames/settings.js';
import type { RgbImage } from '../../src/media/image.js';
import type { LoadedPack } from '../../src/model/pack.js';
import { modelCallsFor, type SolverName } from '../../src/solvers/index.js';
import { labelPixels } from '../../src/world/classify.js';
import type { Case, LoadedCase } from './dataset.js';
import { areaFill, binary, checkCaption, checkObject, clipPsnr, grow, not, union } from '../../src/world/metrics.js';
import type { Row } from './table.js';
import type { World } from '../../src/world/world.js';

export interface Context {
  readonly pack: LoadedPack;
  readonly world: World;
  readonly stills: readonly LoadedCase[];
  readonly clips: readonly LoadedCase[];
  readonly log: (line: string) => void;
  /** overrides of the pack's edit defaults (e.g. autoMask) */
  readonly edit?: SettingOptions;
  /** overrides of the pack's swap defaults (e.g. the layer set) */
  readonly swap?: SettingOptions;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const share = (xs: readonly boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : NaN);

/** Runs `f` over stills and clips, returning per-kind results. */
async function both<T>(ctx: Context, f: (c: LoadedCase) => Promise<T>, clips = ctx.clips): Promise<[T[], T[]]> {
  const s: T[] = [];
  for (const c of ctx.stills) s.push(await f(c));
  const k: T[] = [];
  for (const c of clips) k.push(await f(c));
  return [s, k];
}

/**
 * VAE round trip: PSNR against the source, and (a ceiling for the object measures below) the
 * share of cases whose to-be-edited source object is still right after encode → decode, judged
 * as edits are (checkObject against its source mask, in every frame), and the share of all caption
 * objects of the sources still right, judged as generation is (checkCaption, in every frame).
 */
export async function vaeRoundTrip(ctx: Context): Promise<Row[]> {
  const [s, c] = await both(ctx, async (lc) => {
    const out = await decodeFrames(ctx.pack, await encodeFrames(ctx.pack, lc.source));
    const o = lc.objects[lc.edit.object]!;
    const labels = out.map((f) => labelPixels(ctx.world, f));
    const kept = labels.every((l, i) => checkObject(ctx.world, l, binary(lc.sourceMask[i]!), o.colour, o.shape).right);
    const checks = labels.map((l) => checkCaption(ctx.world, l, lc.objects, lc.background));
    const objectsKept = lc.objects.map((_, k) => checks.every((ch) => ch.objects[k]));
    return { psnr: clipPsnr(out, lc.source), kept, objectsKept };
  });
  const n: [number, number] = [s.length, c.length];
  const [ps, pc] = [mean(s.map((r) => r.psnr)), mean(c.map((r) => r.psnr))];
  const [os, oc] = [s.flatMap((r) => r.objectsKept), c.flatMap((r) => r.objectsKept)];
  return [
    { section: 'VAE round trip', setting: 'encode → decode', metric: 'PSNR', stills: ps, clips: pc, n, target: '≥ 32 / ≥ 30', met: ps >= 32 && pc >= 30 },
    { section: 'VAE round trip', setting: 'encode → decode', metric: 'share source object still right', stills: share(s.map((r) => r.kept)), clips: share(c.map((r) => r.kept)), n },
    { section: 'VAE round trip', setting: 'encode → decode', metric: 'share of all caption objects still right', stills: share(os), clips: share(oc), n: [os.length, oc.length] },
  ];
}

/** Largest step count whose model calls fit the budget. */
export function stepsFor(solver: SolverName, budget: number): number {
  let steps = 1;
  while (modelCallsFor(solver, steps + 1) <= budget) steps++;
  return steps;
}

async function roundTrip(ctx: Context, lc: LoadedCase, solver: SolverName, steps: number): Promise<number> {
  const z0 = await encodeFrames(ctx.pack, lc.source); // [1, C, F, H', W']
  const inv = await invertLatent(ctx.pack, z0, { sourcePrompt: lc.caption, steps, solver });
  const rec = await reconstructLatent(ctx.pack, inv);
  return clipPsnr(await decodeFrames(ctx.pack, rec.z), lc.source);
}

export async function inversion(ctx: Context, sweepClips: number): Promise<Row[]> {
  const rows: Row[] = [];
  const clips = ctx.clips.slice(0, sweepClips);
  const runs: [SolverName, number, string][] = [];
  for (const budget of [10, 20, 50]) {
    for (const solver of ['euler', 'midpoint', 'fireflow'] as SolverName[]) runs.push([solver, stepsFor(solver, budget), `${budget} calls`]);
  }
  runs.push(['midpoint', 20, '20 steps = 40 calls'], ['fireflow', stepsFor('fireflow', 40), '40 calls']);
  const byKey = new Map<string, number>();
  for (const [solver, steps, label] of runs) {
    const [s, c] = await both(ctx, (lc) => roundTrip(ctx, lc, solver, steps), clips);
    ctx.log(`  invert + reconstruct ${solver} ${steps} steps: stills ${mean(s).toFixed(2)} dB, clips ${mean(c).toFixed(2)} dB`);
    byKey.set(`${solver}/${label}`, mean(s));
    byKey.set(`${solver}/${label}/clips`, mean(c));
    const row: Row = { section: 'invert + reconstruct', setting: `${solver}, ${steps} steps (${label})`, metric: 'PSNR', stills: mean(s), clips: mean(c), n: [s.length, c.length] };
    if (solver === 'midpoint' && steps === 20) rows.push({ ...row, target: '≥ 28 / ≥ 26', met: mean(s) >= 28 && mean(c) >= 26 });
    else if (label === '40 calls') {
      const ok = mean(s) >= (byKey.get('midpoint/20 steps = 40 calls') ?? Infinity) && mean(c) >= (byKey.get('midpoint/20 steps = 40 calls/clips') ?? Infinity);
      rows.push({ ...row, target: '≥ midpoint 20 steps', met: ok });
    } else rows.push(row);
  }
  return rows;
}

export async function generation(ctx: Context): Promise<Row[]> {
  const st = resolveSettings(ctx.pack.manifest, 'generate', {});
  const results = await both(ctx, async (lc) => {
    // at the case's size, or the pack's own where the case's is more than the pack takes (a 64×64 pack)
    const image = ctx.pack.manifest.image;
    const [width, height] = image.maxPixels !== undefined && lc.size[0] * lc.size[1] > image.maxPixels && image.defaultSize ? image.defaultSize : lc.size;
    const seed = Number.parseInt(lc.id.slice(-3), 10);
    const frames = Math.min(lc.frames, ctx.pack.manifest.frames?.max ?? 1); // a pack that generates fewer frames in one pass: its most
    const out = await generateFrames(ctx.pack, { prompt: lc.caption, guidance: st.guidance, solver: st.solver, steps: st.steps, seed, width, height, frames });
    const checks = out.frames.map((f) => checkCaption(ctx.world, labelPixels(ctx.world, f), lc.objects, lc.background));
    // per caption object, over frames: right (or in its colour) in every frame
    const each = (pick: (k: (typeof checks)[number]) => readonly boolean[]) => lc.objects.map((_, o) => checks.every((k) => pick(k)[o]));
    const objectsRight = each((k) => k.objects);
    return {
      full: checks.every((k) => k.full),
      objects: objectsRight.every(Boolean),
      background: checks.every((k) => k.background),
      objectsRight,
      objectsColoured: each((k) => k.coloured),
    };
  });
  const [s, c] = results;
  const setting = `${st.solver}, ${st.steps} steps, guidance ${st.guidance}`;
  const n: [number, number] = [s.length, c.length];
  return [
    { section: 'generate', setting, metric: 'share fully matching caption', stills: share(s.map((r) => r.full)), clips: share(c.map((r) => r.full)), n, target: '≥ 80% (stills)', met: share(s.map((r) => r.full)) >= 0.8 },
    { section: 'generate', setting, metric: 'share all objects right', stills: share(s.map((r) => r.objects)), clips: share(c.map((r) => r.objects)), n },
    { section: 'generate', setting, metric: 'share background right', stills: share(s.map((r) => r.background)), clips: share(c.map((r) => r.background)), n },
    // diagnostics, counted per caption object rather than per output (n counts outputs)
    { section: 'generate', setting, metric: 'share of caption objects right', stills: share(s.flatMap((r) => r.objectsRight)), clips: share(c.flatMap((r) => r.objectsRight)), n },
    { section: 'generate', setting, metric: 'share of caption objects in their colour', stills: share(s.flatMap((r) => r.objectsColoured)), clips: share(c.flatMap((r) => r.objectsColoured)), n },
  ];
}

/** Background region of a case frame: outside both the source and the target object, grown by 2 px. */
export function backgroundOf(lc: LoadedCase, f: number): Uint8Array {
  const [w, h] = lc.size;
  return not(grow(union(binary(lc.sourceMask[f]!), binary(lc.truthMask[f]!)), w, h, 2));
}

export interface EditScore {
  readonly right: boolean;
  /** the target colour covers the ground-truth object in every frame (IoU ≥ 0.5), shape not judged */
  readonly placed: boolean;
  readonly psnrTruth: number;
  readonly psnrBackground: number;
  /** the ground-truth object's area is mostly background in the output, pooled over frames (metrics.ts areaFill) */
  readonly dropped: boolean;
}

/** Scores edited frames against the case's ground truth. */
export function scoreEdit(ctx: Context, lc: LoadedCase, frames: readonly RgbImage[]): EditScore & { centreError: number; placedCentreError: number } {
  let right = true;
  let placed = true;
  const errors: number[] = [];
  // each output frame labelled once, with its ground-truth object area: [frames]
  const read = frames.map((f, i) => ({ labels: labelPixels(ctx.world, f), truth: binary(lc.truthMask[i]!) }));
  read.forEach(({ labels, truth: area }, i) => {
    const chk = checkObject(ctx.world, labels, area, lc.target.colour, lc.target.shape);
    right &&= chk.right;
    placed &&= chk.placed;
    const truth = checkObject(ctx.world, labelPixels(ctx.world, lc.truth[i]!), area, lc.target.colour, lc.target.shape);
    if (chk.placed && chk.centre && truth.centre) errors.push(Math.hypot(chk.centre[0] - truth.centre[0], chk.centre[1] - truth.centre[1]));
  });
  return {
    right,
    placed,
    psnrTruth: clipPsnr(frames, lc.truth),
    psnrBackground: clipPsnr(frames, lc.source, frames.map((_, i) => backgroundOf(lc, i))),
    dropped: areaFill(read, lc.target.colour, lc.background).background > 0.5,
    // centre error: mean over frames, only for an object right in every frame (else NaN)
    centreError: right ? mean(errors) : NaN,
    // the same for an object whose colour is in place in every frame, shape not judged (else NaN)
    placedCentreError: placed ? mean(errors) : NaN,
  };
}

/**
 * Diagnostic rows: the share of edits whose target is right among the colour edits and among the
 * shape edits (n counts the edits of that kind). `s` and `c` follow ctx.stills and ctx.clips.
 */
export function rightByKind(
  cases: { readonly stills: readonly Pick<Case, 'edit'>[]; readonly clips: readonly Pick<Case, 'edit'>[] },
  section: string,
  setting: string,
  metric: string,
  s: readonly { right: boolean }[],
  c: readonly { right: boolean }[],
): Row[] {
  return (['colour', 'shape'] as const).map((kind) => {
    const pick = (of: readonly Pick<Case, 'edit'>[], rs: readonly { right: boolean }[]) => rs.filter((_, i) => of[i]!.edit.kind === kind).map((r) => r.right);
    const [ks, kc] = [pick(cases.stills, s), pick(cases.clips, c)];
    return { section, setting, metric: `${metric}, ${kind} edits`, stills: share(ks), clips: share(kc), n: [ks.length, kc.length] as const };
  });
}

/**
 * Diagnostic row: the share of edits whose ground-truth object area came out mostly background,
 * the object dropped rather than drawn wrong (EditScore.dropped).
 */
export function droppedRow(section: string, setting: string, s: readonly { dropped: boolean }[], c: readonly { dropped: boolean }[]): Row {
  return { section, setting, metric: 'share with the object area mostly background (object dropped)', stills: share(s.map((r) => r.dropped)), clips: share(c.map((r) => r.dropped)), n: [s.length, c.length] };
}

/** A text edit of `frames` as `flowedit edit` runs it with settings `st` (auto-edit.ts). */
export function editAsCommand(pack: LoadedPack, frames: readonly RgbImage[], prompts: { source: string; target: string }, st: Settings): Promise<RgbImage[]> {
  return textEditFrames(pack, frames, { sourcePrompt: prompts.source, targetPrompt: prompts.target }, st);
}

export async function textEdit(ctx: Context): Promise<Row[]> {
  const st = resolveSettings(ctx.pack.manifest, 'edit', ctx.edit ?? {});
  const [s, c] = await both(ctx, async (lc) => scoreEdit(ctx, lc, await editAsCommand(ctx.pack, lc.source, { source: lc.caption, target: lc.targetCaption }, st)));
  const mask = st.autoMask > 0 ? `, auto mask θ ${st.autoMask} (grow ${st.maskGrow}, feather ${st.maskFeather}, mask bias ${st.maskBias})` : ', no mask';
  const setting = `${st.solver}, ${st.steps} steps, guidance ${st.guidance}, layers ${st.shareLayers.join(',')}, τ ${st.shareSteps}${mask}`;
  const n: [number, number] = [s.length, c.length];
  return [
    { section: 'text edit', setting, metric: 'share target object right', stills: share(s.map((r) => r.right)), clips: share(c.map((r) => r.right)), n, target: '≥ 70%', met: share(s.map((r) => r.right)) >= 0.7 && share(c.map((r) => r.right)) >= 0.7 },
    ...rightByKind(ctx, 'text edit', setting, 'share target object right', s, c),
    { section: 'text edit', setting, metric: 'share target colour in place (shape not judged)', stills: share(s.map((r) => r.placed)), clips: share(c.map((r) => r.placed)), n },
    droppedRow('text edit', setting, s, c),
    { section: 'text edit', setting, metric: 'PSNR vs ground truth', stills: mean(s.map((r) => r.psnrTruth)), clips: mean(c.map((r) => r.psnrTruth)), n },
    { section: 'text edit', setting, metric: 'PSNR background vs source', stills: mean(s.map((r) => r.psnrBackground)), clips: mean(c.map((r) => r.psnrBackground)), n, target: '≥ 25', met: mean(s.map((r) => r.psnrBackground)) >= 25 && mean(c.map((r) => r.psnrBackground)) >= 25 },
  ];
}

/** Wall time of one call, in seconds. */
export async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await f();
  return [out, (performance.now() - t0) / 1000];
}
