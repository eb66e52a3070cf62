/**
 * The vital-layer analysis of one task on a calibration set: every shareable layer's guidance
 * responsiveness (responsiveness.ts) averaged over the task's calibration edits and ranked; then
 * layer sets run as the task's command runs them and scored (judge.ts): against the calibration's
 * right answers where it has them, and always by what they keep of the source.
 */
import { textEditInverted, type EditPrompts } from '../edit/frames/auto-edit.js';
import { estimateEditMask } from '../edit/frames/auto-mask.js';
import { invertFrames, type ClipInversion } from '../edit/frames/pipeline.js';
import type { RunOptions } from '../edit/latent/progress.js';
import { resolveSettings, type SettingOptions, type Settings } from '../edit/frames/settings.js';
import { preparedFromSource, swapPrepared, swapSettingsFrom } from '../edit/frames/swap-jobs.js';
import type { RgbImage } from '../media/image.js';
import type { Mask } from '../media/mask.js';
import type { Manifest } from '../model/manifest.js';
import type { LoadedPack } from '../model/pack.js';
import type { World } from '../world/world.js';
import { defaultsKeyOf, type AnalysisTask } from './calibration.js';
import type { LoadedCalibrationCase } from './calibration-media.js';
import { judgeCase, type CaseJudgement } from './judge.js';
import { caseResponsiveness, preparedRegion, probeSteps, type ProbeCase } from './responsiveness.js';

/** Probe steps per edit, spread over the sharing range. */
export const PROBES = 4;

/** The task's settings from the pack's defaults (and flowedit's), overridden by `o`. */
export function taskSettings(manifest: Manifest, task: AnalysisTask, o: SettingOptions = {}): Settings {
  return resolveSettings(manifest, defaultsKeyOf(task), o);
}

const maskOptions = (st: Settings) => ({ grow: st.maskGrow, feather: st.maskFeather, invert: false });
const prompts = (lc: LoadedCalibrationCase): EditPrompts => ({ sourcePrompt: lc.sourcePrompt, targetPrompt: lc.targetPrompt });

/**
 * A calibration edit with its source (a still, or a clip's first window) inverted under the source
 * prompt. The layer sets and sharing ranges the analysis tries change only the sampling, so one
 * inversion serves the scoring and every run of the task.
 */
export interface InvertedCase {
  readonly lc: LoadedCalibrationCase;
  readonly inverted: ClipInversion;
}

/** Inverts every case with the task's steps, solver and fit. */
export async function invertCases(pack: LoadedPack, cases: readonly LoadedCalibrationCase[], st: Settings, run: RunOptions = {}): Promise<InvertedCase[]> {
  const out: InvertedCase[] = [];
  for (const [i, lc] of cases.entries()) {
    run.signal?.throwIfAborted();
    out.push({ lc, inverted: await invertFrames(pack, lc.frames, { sourcePrompt: lc.sourcePrompt, steps: st.steps, solver: st.solver, fit: st.fit }) });
    run.onProgress?.({ phase: 'invert', step: i + 1, steps: cases.length });
  }
  return out;
}

/** Refuses settings whose steps, solver or fit are not those the case was inverted with. */
function assertInvertedWith(c: InvertedCase, st: Settings): void {
  const inv = c.inverted.inversions[0]!.settings;
  if (inv.steps !== st.steps || inv.solver !== st.solver || c.inverted.fit.mode !== st.fit) {
    throw new Error(`Case ${c.lc.id} was inverted with ${inv.steps} ${inv.solver} steps (fit ${c.inverted.fit.mode}); these settings need ${st.steps} ${st.solver} steps (fit ${st.fit})`);
  }
}

/** The masked swap's prepared source for a case: its region as the task applies it (the mask its prompts give, for an automatic-mask edit). */
async function preparedCase(pack: LoadedPack, c: InvertedCase, task: AnalysisTask, st: Settings) {
  const { lc, inverted } = c;
  const region = task === 'text-edit' ? await estimateEditMask(pack, inverted, lc.frames.length, { source: lc.sourcePrompt, target: lc.targetPrompt }, st.autoMask) : maskOf(lc, task);
  return preparedFromSource(inverted, lc.frames, region, maskOptions(st));
}

/** A masked task's region (calibration-media.ts refuses a masked task's case without one). */
function maskOf(lc: LoadedCalibrationCase, task: AnalysisTask): Mask {
  if (!lc.region) throw new Error(`Case ${lc.id} has no mask, but ${task} edits inside one`);
  return lc.region;
}

/** The edit as its task runs it up to the sampling: the inversion, and the region it edits. */
async function probeCaseOf(pack: LoadedPack, c: InvertedCase, task: AnalysisTask, st: Settings): Promise<ProbeCase> {
  assertInvertedWith(c, st);
  const base = { ...prompts(c.lc), guidance: st.guidance, guideAgainst: st.guideAgainst };
  if (task === 'text-edit' && !(st.autoMask > 0)) return { ...base, inversion: c.inverted.inversions[0]!, region: null, maskBias: 0 };
  const prepared = await preparedCase(pack, c, task, st);
  return { ...base, inversion: prepared.inversions[0]!, region: preparedRegion(pack, prepared), maskBias: st.maskBias };
}

export interface LayerScores {
  readonly task: AnalysisTask;
  /** the pack's shareable (context) layers, in order */
  readonly layers: readonly number[];
  /** R_l per case (rows) and layer (columns) */
  readonly perCase: readonly (readonly number[])[];
  /** R_l averaged over the cases, per layer */
  readonly mean: readonly number[];
  /** layers from the most responsive to the least */
  readonly ranking: readonly number[];
  readonly probes: readonly number[];
  readonly calls: number;
}

/**
 * Scores every context layer of the pack on the task's calibration edits, with the task's
 * settings `st` (steps, solver, guidance, mask handling; the probes cover its sharing range τ).
 */
export async function scoreLayers(pack: LoadedPack, cases: readonly InvertedCase[], task: AnalysisTask, st: Settings, run: RunOptions = {}): Promise<LayerScores> {
  const layers = pack.transformer.contextLayers;
  const probes = probeSteps(st.steps, Math.max(st.shareSteps, 1 / st.steps), PROBES);
  const perCase: number[][] = [];
  let calls = 0;
  for (const [i, c] of cases.entries()) {
    run.signal?.throwIfAborted();
    const r = await caseResponsiveness(pack, await probeCaseOf(pack, c, task, st), layers, probes, run.signal ? { signal: run.signal } : {});
    perCase.push(r.scores);
    calls += c.inverted.calls + r.calls;
    run.onProgress?.({ phase: 'sample', step: i + 1, steps: cases.length });
  }
  const mean = layers.map((_, k) => perCase.reduce((a, row) => a + row[k]!, 0) / perCase.length);
  return { task, layers, perCase, mean, ranking: rankLayers(layers, mean), probes, calls };
}

/** Layers by descending score (ties: the lower layer first). */
export function rankLayers(layers: readonly number[], scores: readonly number[]): number[] {
  return layers.map((l, k) => ({ l, s: scores[k]! })).sort((a, b) => b.s - a.s || a.l - b.l).map((e) => e.l);
}

/** The k highest-ranked layers, in layer order. */
export function topLayers(ranking: readonly number[], k: number): number[] {
  return ranking.slice(0, Math.max(1, Math.min(k, ranking.length))).sort((a, b) => a - b);
}

/** Spearman's rank correlation of two score lists over the same items (average ranks for ties). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length < 2) throw new Error('Rank correlation needs two lists of the same length, at least 2');
  const ranks = (xs: readonly number[]) => {
    const order = xs.map((x, i) => ({ x, i })).sort((p, q) => q.x - p.x);
    const r = new Array<number>(xs.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]!.x === order[i]!.x) j++;
      for (let k = i; k <= j; k++) r[order[k]!.i] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const [ra, rb] = [ranks(a), ranks(b)];
  const mean = (a.length + 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return da === 0 || db === 0 ? NaN : num / Math.sqrt(da * db);
}

/** Runs one calibration edit from its inversion as the task's command runs it with settings `st`: its frames. */
export async function runTask(pack: LoadedPack, c: InvertedCase, task: AnalysisTask, st: Settings, run: RunOptions = {}): Promise<RgbImage[]> {
  assertInvertedWith(c, st);
  const { lc, inverted } = c;
  if (task === 'text-edit') return textEditInverted(pack, inverted, lc.frames, prompts(lc), st, run);
  const prepared = await preparedFromSource(inverted, lc.frames, maskOf(lc, task), maskOptions(st), run);
  return (await swapPrepared(pack, prepared, swapSettingsFrom(st, prompts(lc), maskOptions(st)), run)).frames;
}

export interface SettingScore {
  /** share of edits whose object is right (null without checks or a world) */
  readonly right: number | null;
  /** share of edits whose object's colour is in place, shape not judged (null likewise) */
  readonly placed: number | null;
  /** mean PSNR against the ground truth (null without expected images) */
  readonly psnrTruth: number | null;
  /** mean PSNR outside the edit region against the source (everywhere, for cases without a mask) */
  readonly psnrBackground: number;
  /** mean PSNR inside the edit region against the source: lower is more change (null: no case has a mask) */
  readonly psnrInside: number | null;
  readonly cases: readonly CaseJudgement[];
}

/** Runs the task with settings `st` on every case and scores the results. */
export async function scoreSetting(pack: LoadedPack, cases: readonly InvertedCase[], task: AnalysisTask, st: Settings, world: World | null, run: RunOptions = {}): Promise<SettingScore> {
  const judged: CaseJudgement[] = [];
  for (const c of cases) {
    run.signal?.throwIfAborted();
    judged.push(judgeCase(c.lc, await runTask(pack, c, task, st), world));
  }
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const shareOf = (xs: readonly (boolean | null)[]) => {
    const known = xs.filter((x): x is boolean => x !== null);
    return known.length ? known.filter(Boolean).length / known.length : null;
  };
  const known = (xs: readonly (number | null)[]) => {
    const ns = xs.filter((x): x is number => x !== null && !Number.isNaN(x));
    return ns.length ? mean(ns) : null;
  };
  return {
    right: shareOf(judged.map((j) => j.right)),
    placed: shareOf(judged.map((j) => j.placed)),
    psnrTruth: known(judged.map((j) => j.psnrTruth)),
    psnrBackground: mean(judged.map((j) => j.psnrBackground)),
    psnrInside: known(judged.map((j) => j.psnrInside)),
    cases: judged,
  };
}
