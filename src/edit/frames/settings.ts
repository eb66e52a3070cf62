/**
 * Resolved run settings. Precedence: flowedit's defaults < the pack's defaults < the pack's
 * defaults for the task < explicit options. Every value is validated here, before any model loads.
 */
import type { FitMode } from '../../media/fit.js';
import { checkMaskOptions } from '../../media/mask.js';
import type { Manifest, TaskDefaults } from '../../model/manifest.js';
import { resolveLayerGroup, type GroupSource } from '../../model/layer-groups.js';
import { isSolverName, type SolverName } from '../../solvers/index.js';
import { checkRange, unknownChoice } from '../../settings/check.js';
import type { Recipe } from '../../settings/recipe.js';
import { SETTINGS } from '../../settings/table.js';
import { seedFor } from './seeds.js';
import { AUTO_EDIT, isMaskedTask } from '../../settings/tasks.js';
import type { EditSettings } from '../latent/edit.js';
import type { ShareOptions } from '../../attention/plan.js';
import { isGuideAgainst, type GuideAgainst } from '../latent/velocity.js';

export { MASKED_TASKS, isMaskedTask, type MaskedTask } from '../../settings/tasks.js';
export { describeRange, inRange, type NumberRange } from '../../settings/ranges.js';
export { checkRange } from '../../settings/check.js';
export { RANGES, type RangedName } from '../../settings/table.js';

/** flowedit's own defaults (the table of settings), below the pack's. */
export const FLOWEDIT_DEFAULTS = {
  steps: SETTINGS.steps.default as number,
  solver: SETTINGS.solver.default as SolverName,
  guidance: SETTINGS.guidance.default as number,
  /** plain classifier-free guidance, against the empty prompt */
  guideAgainst: SETTINGS.guideAgainst.default as GuideAgainst,
  shareSteps: SETTINGS.shareSteps.default as number,
  fit: SETTINGS.fit.default as FitMode,
  sourcePrompt: '',
  seed: SETTINGS.seed.default as number,
  /** swap: no bias on the shared keys inside the mask (plain enrichment) */
  maskBias: SETTINGS.maskBias.default as number,
  /** swap: pixels the mask grows by, and the width of its soft edge */
  maskGrow: SETTINGS.maskGrow.default as number,
  maskFeather: SETTINGS.maskFeather.default as number,
  /** edit: no automatic mask (the edit path may change every pixel) */
  autoMask: SETTINGS.autoMask.default as number,
  /** joint text: the edit path does not see the reconstruction path's text keys */
  shareText: SETTINGS.shareText.default as boolean,
};

/** Options a user may set: what a recipe may set (its command is ignored here), and two more; undefined = not given. */
export type SettingOptions = Recipe & {
  /** who named a layer group in shareLayers (a preset, --share-layers, a batch item): for the refusal's advice */
  readonly shareLayersFrom?: GroupSource | undefined;
  /** the prompt of the guided-against branch, replacing the pack's negative prompt and guideAgainst's choice */
  readonly negativePrompt?: string | undefined;
};

export interface Settings {
  readonly steps: number;
  readonly solver: SolverName;
  readonly guidance: number;
  /** edit and masked tasks: what the guidance steers away from (the empty or the source prompt) */
  readonly guideAgainst: GuideAgainst;
  readonly shareLayers: readonly number[];
  readonly shareSteps: number;
  readonly fit: FitMode;
  readonly seed: number;
  /** logit bias on the shared keys inside a mask (masked tasks) */
  readonly maskBias: number;
  /** pixels a mask grows by, and the width of its soft edge (masked tasks) */
  readonly maskGrow: number;
  readonly maskFeather: number;
  /**
   * edit: θ of the mask estimated from the prompts (auto-mask.ts), in (0, 1); 0 = no mask. With
   * a mask, the edit is a swap inside it and takes the pack's swap defaults, then its auto-edit ones.
   */
  readonly autoMask: number;
  /** joint text: the edit path's shared context includes the reconstruction path's text keys */
  readonly shareText: boolean;
  /** σ of a static schedule shift given by the user; undefined = the pack's schedule */
  readonly shift?: number;
  /** a prompt to steer the guidance away from, given by the user; undefined = guideAgainst's choice (the pack's negative prompt for "empty") */
  readonly negativePrompt?: string;
}

/** The task defaults that apply to `task`: a masked task's over the swap task's. */
function taskDefaults(m: Manifest, task: string): TaskDefaults {
  const tasks = m.defaults?.tasks ?? {};
  return isMaskedTask(task) ? { ...tasks.swap, ...tasks[task] } : (tasks[task] ?? {});
}

/**
 * The pack's task defaults that apply to a run of `task`. An edit inside an estimated mask
 * (autoMask > 0) is a swap: it takes the swap task's defaults, overridden by the `auto-edit`
 * task's own (as flowedit layers --write measures them).
 */
export function appliedTaskDefaults(m: Manifest, task: string, autoMask: number): TaskDefaults {
  if (autoMask <= 0) return taskDefaults(m, task);
  return { ...taskDefaults(m, 'swap'), ...m.defaults?.tasks?.[AUTO_EDIT] };
}

/** Resolves and validates settings for `task` (e.g. "edit") against a manifest. */
export function resolveSettings(m: Manifest, task: string, o: SettingOptions): Settings {
  const d = m.defaults ?? {};
  const autoMask = task === 'edit' ? (o.autoMask ?? d.tasks?.edit?.autoMask ?? FLOWEDIT_DEFAULTS.autoMask) : 0;
  checkRange('autoMask', autoMask);
  const t = appliedTaskDefaults(m, task, autoMask);
  const steps = o.steps ?? d.steps ?? FLOWEDIT_DEFAULTS.steps;
  checkRange('steps', steps);
  const solver = o.solver ?? d.solver ?? FLOWEDIT_DEFAULTS.solver;
  if (!isSolverName(solver)) throw new Error(unknownChoice('solver', solver));
  const guidance = o.guidance ?? t.guidance ?? d.guidance ?? FLOWEDIT_DEFAULTS.guidance;
  checkRange('guidance', guidance);
  const guideAgainst = o.guideAgainst ?? t.guideAgainst ?? d.guideAgainst ?? FLOWEDIT_DEFAULTS.guideAgainst;
  if (!isGuideAgainst(guideAgainst)) throw new Error(unknownChoice('guideAgainst', guideAgainst));
  if (guideAgainst === 'source' && m.transformer.guidance !== 'cfg') {
    throw new Error(`Pack '${m.id}' takes guidance as a distilled input, so there is no second branch to guide against the source prompt: use --guide-against empty`);
  }
  const packLayers = t.shareLayers ?? d.shareLayers ?? m.transformer.contextLayers;
  const named = o.shareLayers ?? packLayers;
  // a group name stands for the pack's layers of that name; a pack without it is refused here
  const shareLayers = typeof named === 'string' ? resolveLayerGroup(m, named, o.shareLayersFrom ?? { kind: 'flag' }, packLayers) : named;
  const shareSteps = o.shareSteps ?? t.shareSteps ?? d.shareSteps ?? FLOWEDIT_DEFAULTS.shareSteps;
  checkRange('shareSteps', shareSteps);
  const fit = o.fit ?? d.fit ?? FLOWEDIT_DEFAULTS.fit;
  if (fit !== 'pad' && fit !== 'resize') throw new Error(unknownChoice('fit', fit));
  checkRange('seed', o.seed ?? FLOWEDIT_DEFAULTS.seed);
  const seed = seedFor(o.seed ?? FLOWEDIT_DEFAULTS.seed); // -1: drawn here, so the run and its record use the same seed
  const maskBias = o.maskBias ?? t.maskBias ?? FLOWEDIT_DEFAULTS.maskBias;
  checkRange('maskBias', maskBias);
  const maskGrow = o.maskGrow ?? FLOWEDIT_DEFAULTS.maskGrow;
  const maskFeather = o.maskFeather ?? FLOWEDIT_DEFAULTS.maskFeather;
  checkMaskOptions({ grow: maskGrow, feather: maskFeather, invert: false });
  checkRange('maskGrow', maskGrow);
  checkRange('maskFeather', maskFeather);
  const shareText = o.shareText ?? d.shareText ?? FLOWEDIT_DEFAULTS.shareText;
  if (o.shift !== undefined) checkRange('shift', o.shift);
  if (o.negativePrompt !== undefined && m.transformer.guidance !== 'cfg') {
    throw new Error(`Pack '${m.id}' takes guidance as a distilled input, so there is no second branch to steer away from a negative prompt: leave --negative-prompt out`);
  }
  return {
    steps, solver, guidance, guideAgainst, shareLayers, shareSteps, fit, seed, maskBias, maskGrow, maskFeather, autoMask, shareText,
    ...(o.shift !== undefined ? { shift: o.shift } : {}),
    ...(o.negativePrompt !== undefined ? { negativePrompt: o.negativePrompt } : {}),
  };
}

/** What sharing resolved settings ask for: their layers, the shared fraction of steps, and whether text keys are shared. */
export function shareOptionsFrom(s: Pick<Settings, 'shareLayers' | 'shareSteps' | 'shareText'>): ShareOptions {
  return { layers: s.shareLayers, fraction: s.shareSteps, shareText: s.shareText };
}

/** The edit path's settings (an edit everywhere, with shared context) from resolved run settings. */
export function editSettingsFrom(s: Settings, targetPrompt: string): EditSettings {
  return {
    targetPrompt,
    guidance: s.guidance,
    guideAgainst: s.guideAgainst,
    share: shareOptionsFrom(s),
    ...(s.negativePrompt !== undefined ? { negativePrompt: s.negativePrompt } : {}),
  };
}
