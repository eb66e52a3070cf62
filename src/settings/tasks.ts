/**
 * The tasks whose defaults a pack may name (manifest defaults.tasks): `edit` (flowedit edit) and
 * the masked tasks that replace what a mask covers (flowedit swap --task). A masked task takes the
 * swap task's defaults, overridden by its own. No imports, so command declarations can use it.
 */
export const MASKED_TASKS = ['swap', 'recolor', 'insert', 'remove'] as const;
export type MaskedTask = (typeof MASKED_TASKS)[number];

export function isMaskedTask(task: string): task is MaskedTask {
  return (MASKED_TASKS as readonly string[]).includes(task);
}

/** The tasks `flowedit layers` analyses: the masked tasks and text-edit (flowedit edit's task, `edit`). */
export const ANALYSIS_TASKS = [...MASKED_TASKS, 'text-edit'] as const;
export type AnalysisTask = (typeof ANALYSIS_TASKS)[number];

export function isAnalysisTask(v: string): v is AnalysisTask {
  return (ANALYSIS_TASKS as readonly string[]).includes(v);
}

/**
 * The defaults key of an edit inside an estimated mask (flowedit edit with --auto-mask θ > 0): it
 * takes the swap task's defaults, overridden by its own, so that measuring it leaves the plain
 * edit's (`edit`) as they are.
 */
export const AUTO_EDIT = 'auto-edit';

/**
 * The manifest's defaults key that an analysed task's runs read: text-edit is the `edit`
 * command's task, `auto-edit` when the edit runs inside an estimated mask (autoMask > 0).
 */
export function defaultsKeyOf(task: AnalysisTask, autoMask = 0): string {
  if (task !== 'text-edit') return task;
  return autoMask > 0 ? AUTO_EDIT : 'edit';
}
