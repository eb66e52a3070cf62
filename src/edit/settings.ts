/**
 * Resolved run settings. Precedence: flowedit's defaults < the pack's defaults < the pack's
 * defaults for the task < explicit options. Every value is validated here, before any model loads.
 */
import type { FitMode } from '../media/fit.js';
import { checkMaskOptions } from '../media/mask.js';
import type { Manifest, TaskDefaults } from '../model/manifest.js';
import { resolveLayerGroup, type GroupSource } from '../model/layer-groups.js';
import { isSolverName, SOLVERS, type SolverName } from '../solvers/index.js';
import { checkRange } from './ranges.js';
import { seedFor } from './seeds.js';
import { AUTO_EDIT, isMaskedTask } from './tasks.js';
import type { EditSettings } from './edit.js';
import type { ShareOptions } from '../attention/plan.js';
import { GUIDE_AGAINST, isGuideAgainst, type GuideAgainst } from './velocity.js';

export { MASKED_TASKS, isMaskedTask, type MaskedTask } from './tasks.js';
export { checkRange, describeRange, inRange, RANGES, type NumberRange, type RangedName } from './ranges.js';

export const FLOWEDIT_DEFAULTS = {
  steps: 20,
  solver: 'fireflow' as SolverName,
  guidance: 3,
  /** plain classifier-free guidance, against the empty prompt */
  guideAgainst: 'empty' as GuideAgainst,
  shareSteps: 0.5,
  fit: 'pad' as FitMode,
  sourcePrompt: '',
  seed: 0,
  /** swap: no bias on the shared keys inside the mask (plain enrichment) */
  maskBias: 0,
  /** swap: pixels the mask grows by, and the width of its soft edge */
  maskGrow: 2,
  maskFeather: 6,
  /** edit: no automatic mask (the edit path may change every pixel) */
  autoMask: 0,
  /** joint text: the edit path does not see the reconstruction path's text keys */
  shareText: false,
};

/** Options a user may set; undefined = not given. */
export interface SettingOptions {
  readonly steps?: number | undefined;
  readonly solver?: string | undefined;
  readonly guidance?: number | undefined;
  readonly guideAgainst?: string | undefined;
  /** layer numbers, or the name of a layer group (the pack's transformer.layerGroups, or `all`) */
  readonly shareLayers?: readonly number[] | string | undefined;
  /** who named a layer group in shareLayers (a preset, --share-layers, a batch item): for the refusal's advice */
  readonly shareLayersFrom?: GroupSource | undefined;
  readonly shareSteps?: number | undefined;
  readonly fit?: string | undefined;
  /** -1 (RANDOM_SEED) draws one */
  readonly seed?: number | undefined;
  readonly maskBias?: number | undefined;
  readonly maskGrow?: number | undefined;
  readonly maskFeather?: number | undefined;
  readonly autoMask?: number | undefined;
  /** joint text: the edit path also sees the reconstruction path's text keys */
  readonly shareText?: boolean | undefined;
  /** σ of a static schedule shift, replacing the pack's schedule */
  readonly shift?: number | undefined;
  /** the prompt of the guided-against branch, replacing the pack's negative prompt and guideAgainst's choice */
  readonly negativePrompt?: string | undefined;
}

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
  checkRange('auto-mask', autoMask);
  const t = appliedTaskDefaults(m, task, autoMask);
  const steps = o.steps ?? d.steps ?? FLOWEDIT_DEFAULTS.steps;
  checkRange('steps', steps);
  const solver = o.solver ?? d.solver ?? FLOWEDIT_DEFAULTS.solver;
  if (!isSolverName(solver)) throw new Error(`Unknown solver "${solver}": choose one of ${SOLVERS.join(', ')}`);
  const guidance = o.guidance ?? t.guidance ?? d.guidance ?? FLOWEDIT_DEFAULTS.guidance;
  checkRange('guidance', guidance);
  const guideAgainst = o.guideAgainst ?? t.guideAgainst ?? d.guideAgainst ?? FLOWEDIT_DEFAULTS.guideAgainst;
  if (!isGuideAgainst(guideAgainst)) throw new Error(`Unknown --guide-against "${guideAgainst}": choose ${GUIDE_AGAINST.join(' or ')}`);
  if (guideAgainst === 'source' && m.transformer.guidance !== 'cfg') {
    throw new Error(`Pack '${m.id}' takes guidance as a distilled input, so there is no second branch to guide against the source prompt: use --guide-against empty`);
  }
  const packLayers = t.shareLayers ?? d.shareLayers ?? m.transformer.contextLayers;
  const named = o.shareLayers ?? packLayers;
  // a group name stands for the pack's layers of that name; a pack without it is refused here
  const shareLayers = typeof named === 'string' ? resolveLayerGroup(m, named, o.shareLayersFrom ?? { kind: 'flag' }, packLayers) : named;
  const shareSteps = o.shareSteps ?? t.shareSteps ?? d.shareSteps ?? FLOWEDIT_DEFAULTS.shareSteps;
  checkRange('share-steps', shareSteps);
  const fit = o.fit ?? d.fit ?? FLOWEDIT_DEFAULTS.fit;
  if (fit !== 'pad' && fit !== 'resize') throw new Error(`Unknown fit "${fit}": choose pad or resize`);
  checkRange('seed', o.seed ?? FLOWEDIT_DEFAULTS.seed);
  const seed = seedFor(o.seed ?? FLOWEDIT_DEFAULTS.seed); // -1: drawn here, so the run and its record use the same seed
  const maskBias = o.maskBias ?? t.maskBias ?? FLOWEDIT_DEFAULTS.maskBias;
  checkRange('mask-bias', maskBias);
  const maskGrow = o.maskGrow ?? FLOWEDIT_DEFAULTS.maskGrow;
  const maskFeather = o.maskFeather ?? FLOWEDIT_DEFAULTS.maskFeather;
  checkMaskOptions({ grow: maskGrow, feather: maskFeather, invert: false });
  checkRange('mask-grow', maskGrow);
  checkRange('mask-feather', maskFeather);
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
