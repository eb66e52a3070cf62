/**
 * One task's whole layer study, as `flowedit layers` runs it: every calibration set inverted once
 * and its layers ranked by guidance responsiveness, the sets' rankings compared (Spearman ρ), the
 * top-k set run as the task runs next to every layer, no sharing and the pack's own set, an
 * optional k × τ sweep, and the setting chosen. It reports progress through callbacks and prints
 * nothing.
 *
 * What is chosen: with the calibration's right answers (expected images, scene-world checks), the
 * sweep's best setting (most objects right, then most colours in place, then closest to the
 * answers, then the best-kept background). Without answers nothing judges whether an edit is
 * right, so the choice is the k most responsive layers with the task's τ, and the sweep chooses
 * nothing (its table is still measured: what each setting keeps of the source and changes inside
 * the edit region).
 */
import type { Settings, SettingOptions } from '../edit/frames/settings.js';
import type { LoadedPack } from '../model/pack.js';
import type { World } from '../world/world.js';
import { invertCases, scoreLayers, scoreSetting, spearman, taskSettings, topLayers, type InvertedCase, type LayerScores, type SettingScore } from './analysis.js';
import type { AnalysisTask } from './calibration.js';
import { hasAnswers, type LoadedCalibrationCase } from './calibration-media.js';

/** τ values the sweep tries (with the task's own). */
export const SWEEP_FRACTIONS = [0.2, 0.5, 1.0];

export interface Trial {
  readonly name: string;
  readonly k: number;
  readonly layers: readonly number[];
  readonly fraction: number;
  readonly score: SettingScore;
}

export interface StudyOptions {
  /** size of the top-k set */
  readonly k: number;
  readonly sweep: boolean;
  /** the scene world the checks judge by (format-1 calibration files), or null */
  readonly world: World | null;
  /** the pack's current layer set for the task, run too when it differs from the top k */
  readonly current?: readonly number[] | undefined;
  /** the options the task's settings were resolved with (the trials override the sharing) */
  readonly options: SettingOptions;
}

export interface StudyProgress {
  /** e.g. 'inverting 1/2', 'scoring 1/2', 'running top 2' */
  readonly stage: string;
  readonly step: number;
  readonly steps: number;
}

export interface StudyHooks {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: StudyProgress) => void;
}

export interface LayerStudy {
  readonly task: AnalysisTask;
  /** the task's settings the layers were scored with */
  readonly settings: Settings;
  /** per calibration set: each layer's responsiveness, ranked */
  readonly scores: readonly LayerScores[];
  /** Spearman ρ of each further set's scores with the first's */
  readonly correlations: readonly number[];
  /** top k, all layers, no sharing (and the pack's own set), on the first set */
  readonly trials: readonly Trial[];
  readonly sweep: readonly Trial[];
  /** whether the first set carries right answers to judge the trials by */
  readonly answers: boolean;
  /** the setting chosen (see the module comment) */
  readonly pick: Trial;
  /** how it was chosen */
  readonly pickedBy: 'sweep' | 'responsiveness';
}

/**
 * Best trial: most objects right, then most colours in place, then closest to the ground truth,
 * then the background kept best.
 */
export function bestTrial(trials: readonly Trial[]): Trial {
  const by = (t: Trial) => [t.score.right ?? 0, t.score.placed ?? 0, t.score.psnrTruth ?? 0, t.score.psnrBackground];
  return [...trials].sort((a, b) => {
    const [x, y] = [by(a), by(b)];
    return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]! || y[3]! - x[3]!;
  })[0]!;
}

/** Layer counts the sweep tries: 1, 2, 4, … below L, and L. */
export function sweepSizes(L: number): number[] {
  return [...new Set([1, 2, 4, 8, 16, 32, 64].filter((n) => n < L).concat(L))];
}

/**
 * Studies the task's layers on calibration sets (the first chooses and is run; each further one
 * is ranked and compared with it) with the task's settings `base`.
 */
export async function studyLayers(pack: LoadedPack, sets: readonly (readonly LoadedCalibrationCase[])[], task: AnalysisTask, base: Settings, o: StudyOptions, hooks: StudyHooks = {}): Promise<LayerStudy> {
  const report = (stage: string) => ({ signal: hooks.signal, onProgress: (p: { step: number; steps: number }) => hooks.onProgress?.({ stage, step: p.step, steps: p.steps }) });
  // 1. every layer's responsiveness, on each set (each edit inverted once, for everything below)
  const inverted: InvertedCase[][] = [];
  const scores: LayerScores[] = [];
  for (const [i, cases] of sets.entries()) {
    const of = `${i + 1}/${sets.length}`;
    inverted.push(await invertCases(pack, cases, base, report(`inverting ${of}`)));
    scores.push(await scoreLayers(pack, inverted[i]!, task, base, report(`scoring ${of}`)));
  }
  const correlations = scores.slice(1).map((s) => spearman(scores[0]!.mean, s.mean));
  // 2. the top-k set against every layer and no sharing, as the task runs, on the first set
  const cases = inverted[0]!;
  const all = pack.transformer.contextLayers;
  const trialOf = async (name: string, layers: readonly number[], fraction: number): Promise<Trial> => {
    hooks.signal?.throwIfAborted();
    const st = taskSettings(pack.manifest, task, { ...o.options, shareLayers: layers.length ? layers : all, shareSteps: layers.length ? fraction : 0 });
    const score = await scoreSetting(pack, cases, task, st, o.world, hooks.signal ? { signal: hooks.signal } : {});
    hooks.onProgress?.({ stage: `running ${name}`, step: 1, steps: 1 });
    return { name, k: layers.length, layers, fraction: layers.length ? fraction : 0, score };
  };
  const tau = base.shareSteps;
  const chosen = topLayers(scores[0]!.ranking, o.k);
  const trials: Trial[] = [await trialOf(`top ${o.k}`, chosen, tau), await trialOf('all layers', all, tau), await trialOf('no sharing', [], tau)];
  if (o.current && o.current.join() !== chosen.join()) trials.push(await trialOf('pack default', o.current, tau));
  // 3. the sweep over k and τ
  const sweep: Trial[] = [];
  if (o.sweep) {
    const fractions = [...new Set([...SWEEP_FRACTIONS, tau])].sort((x, y) => x - y);
    for (const k of sweepSizes(all.length)) for (const f of fractions) sweep.push(await trialOf(`k ${k}, τ ${f}`, topLayers(scores[0]!.ranking, k), f));
  }
  const answers = hasAnswers(sets[0]!, o.world !== null);
  const bySweep = o.sweep && answers;
  return { task, settings: base, scores, correlations, trials, sweep, answers, pick: bySweep ? bestTrial(sweep) : trials[0]!, pickedBy: bySweep ? 'sweep' : 'responsiveness' };
}
