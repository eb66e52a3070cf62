/**
 * Overall progress: the work a job is expected to do, as stages of steps, and a tracker that
 * turns the edit layer's per-phase events into one fraction of the whole, with elapsed time and
 * an estimate of the time left.
 */
import { MASK_PROBE } from '../../edit/frames/auto-mask.js';
import type { Phase, Progress } from '../../edit/latent/progress.js';
import type { PlannedItem } from '../../batch/plan.js';
import type { JobSpec } from '../../jobs/job.js';

/** One phase of a job: `steps` per window, run `times` times per window (a batch item: once per output). */
export interface Stage {
  readonly phase: Phase;
  /** 0 when only the first event tells (e.g. the steps an inversion file was made with) */
  readonly steps: number;
  readonly times?: number;
}

const encodeAndInvert = (steps: number): Stage[] => [
  { phase: 'encode', steps: 1 },
  { phase: 'invert', steps },
];

/**
 * The stages a job goes through, in order, per window of a clip (the window count comes with the
 * first event). Every step counts as one unit of work; encoding and decoding a window count as one.
 */
export function expectedWork(job: JobSpec): Stage[] {
  const decode: Stage = { phase: 'decode', steps: 1 };
  switch (job.kind) {
    case 'invert':
      return encodeAndInvert(job.settings.steps);
    case 'reconstruct':
      return [{ phase: 'sample', steps: 0 }, decode];
    case 'edit': {
      // from an inversion file the sampling takes the file's steps: the first sample event corrects them
      const masked: Stage[] = job.settings.autoMask > 0 ? [{ phase: 'mask', steps: MASK_PROBE.draws }] : [];
      return [...(job.inputIsInversion ? [] : encodeAndInvert(job.settings.steps)), ...masked, { phase: 'sample', steps: job.settings.steps }, decode];
    }
    case 'swap':
      return [...(job.inputIsInversion ? [] : encodeAndInvert(job.settings.steps)), { phase: 'sample', steps: job.settings.steps }, decode];
    case 'generate':
      return [{ phase: 'sample', steps: job.request.steps }, decode];
  }
}

/** A batch item's stages: its source inverted once, then each of its `pending` outputs sampled and decoded. */
export function expectedItemWork(item: Pick<PlannedItem, 'command' | 'settings'>, pending: number): Stage[] {
  const s = item.settings;
  const times = Math.max(1, pending);
  const masked: Stage[] = item.command === 'edit' && s.autoMask > 0 ? [{ phase: 'mask', steps: MASK_PROBE.draws, times }] : [];
  return [...encodeAndInvert(s.steps), ...masked, { phase: 'sample', steps: s.steps, times }, { phase: 'decode', steps: 1, times }];
}

export interface OverallTracker {
  /** takes one event at time `now` (seconds) and returns the overall fraction, which never goes back */
  update(p: Progress, now: number): number;
  readonly fraction: number;
  /** how many windows the job runs in (1 until an event names more) */
  readonly windows: number;
  /** seconds spent in each phase: the time up to each event counts for that event's phase */
  readonly phaseSeconds: Readonly<Partial<Record<Phase, number>>>;
  /** seconds left, once a little progress was made (5 % since the first event); undefined before */
  eta(now: number): number | undefined;
}

/** Progress since the first event needed before an estimate of the time left is shown. */
export const ETA_AFTER = 0.05;

/**
 * Tracks the overall fraction of `stages`. Events of a phase count per window; a step lower than
 * the last one seen for the same phase and window starts another round (the next output of a
 * batch item, or the next window where events carry none, as the automatic mask's do).
 */
export function overallTracker(stages: readonly Stage[]): OverallTracker {
  const plan = new Map<Phase, { steps: number; times: number }>(stages.map((s) => [s.phase, { steps: s.steps, times: s.times ?? 1 }]));
  const seen = new Map<string, { rounds: number; last: number }>();
  const phaseSeconds: Partial<Record<Phase, number>> = {};
  let windows = 1;
  let fraction = 0;
  let first: { t: number; f: number } | undefined;
  let lastTime: number | undefined;

  const computed = (): number => {
    let total = 0;
    for (const s of plan.values()) total += s.steps * s.times * windows;
    if (total <= 0) return 0;
    let done = 0;
    for (const [key, v] of seen) {
      const [phase, win] = key.split(':') as [Phase, string];
      const s = plan.get(phase)!;
      // events without a window index count over all windows
      const cap = s.steps * s.times * (win === '-' ? windows : 1);
      done += Math.min(v.rounds + v.last, cap);
    }
    return Math.min(1, done / total);
  };

  return {
    update(p, now) {
      if (p.window) windows = Math.max(windows, p.window.count);
      const s = plan.get(p.phase);
      if (!s) plan.set(p.phase, { steps: p.steps, times: 1 });
      else if (p.steps > 0 && p.steps !== s.steps) s.steps = p.steps;
      const key = `${p.phase}:${p.window ? p.window.index : '-'}`;
      const v = seen.get(key) ?? { rounds: 0, last: 0 };
      if (p.step < v.last) v.rounds += v.last;
      v.last = p.step;
      seen.set(key, v);
      if (lastTime !== undefined) phaseSeconds[p.phase] = (phaseSeconds[p.phase] ?? 0) + (now - lastTime);
      lastTime = now;
      fraction = Math.max(fraction, computed());
      first ??= { t: now, f: fraction };
      return fraction;
    },
    get fraction() {
      return fraction;
    },
    get windows() {
      return windows;
    },
    phaseSeconds,
    eta(now) {
      return etaSeconds(first, fraction, now);
    },
  };
}

/**
 * Seconds left at `now` when the fraction went from `start.f` at `start.t` to `f`: the pace since
 * the first event (start-up and model load are not work on the job); undefined until `ETA_AFTER`
 * of it is done.
 */
export function etaSeconds(start: { t: number; f: number } | undefined, f: number, now: number): number | undefined {
  if (!start || f >= 1) return f >= 1 ? 0 : undefined;
  const made = f - start.f;
  if (made < ETA_AFTER) return undefined;
  return ((now - start.t) * (1 - f)) / made;
}
