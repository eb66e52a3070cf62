/** The progress of one command's job: its events tracked against the work it is expected to do, and shown. */
import type { Progress } from '../../edit/latent/progress.js';
import type { JobSpec } from '../../jobs/job.js';
import { bar, percent, phaseText, timeText } from './format.js';
import { createReporter, processSeconds, type ProgressMode, type ProgressStream, type Reporter } from './reporter.js';
import { expectedWork, overallTracker, type OverallTracker } from './work.js';

export interface JobProgress {
  onProgress(p: Progress): void;
  warning(text: string): void;
  notice(text: string): void;
  /** the timer's check (tests drive it with their clock) */
  tick(): void;
  end(): void;
  readonly tracker: OverallTracker;
}

export interface ProgressOutput {
  readonly mode: ProgressMode;
  readonly stream?: ProgressStream;
  readonly now?: () => number;
  readonly timer?: boolean;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** A progress event as JSON Lines carry it (`overall` in [0, 1], seconds; eta null until there is one). */
export function progressEvent(p: Progress, overall: number, elapsed: number, eta: number | undefined): Record<string, unknown> {
  return {
    type: 'progress',
    phase: p.phase,
    step: p.step,
    steps: p.steps,
    ...(p.window ? { window: { index: p.window.index, count: p.window.count } } : {}),
    overall: round(overall, 4),
    elapsed: round(elapsed, 2),
    eta: eta === undefined ? null : round(eta, 2),
  };
}

export function jobProgress(job: JobSpec, o: ProgressOutput): JobProgress {
  const now = o.now ?? processSeconds;
  const tracker = overallTracker(expectedWork(job));
  let last: Progress | undefined;
  /** the last phase (and window) finished: a plain line is written as each one ends */
  let finished = '';
  const view = {
    lines(t: number): string[] {
      const time = timeText(t, tracker.eta(t));
      if (!last) return [o.mode === 'bar' ? `loading the model · ${time}` : `flowedit: loading the model, ${time}`];
      const f = tracker.fraction;
      return [o.mode === 'bar' ? `${percent(f).padStart(4)} ${bar(f)} ${phaseText(last)} · ${time}` : `flowedit: ${percent(f)} ${phaseText(last)}, ${time}`];
    },
    // the bar is redrawn at once as a phase starts; a plain line is written as one ends
    key: () => (o.mode === 'bar' ? (last ? `${last.phase}:${last.window?.index ?? ''}` : '') : finished),
  };
  const reporter: Reporter = createReporter({ stream: o.stream ?? process.stderr, mode: o.mode, view, now, ...(o.timer !== undefined ? { timer: o.timer } : {}) });
  reporter.changed(); // the loading line, and the timer that keeps it moving
  return {
    tracker,
    onProgress(p) {
      const t = now();
      const f = tracker.update(p, t);
      last = p;
      if (p.step === p.steps) finished = `${p.phase}:${p.window?.index ?? ''}:${t}`;
      reporter.event(progressEvent(p, f, t, tracker.eta(t)));
      reporter.changed();
    },
    warning: (text) => reporter.message('warning', text),
    notice: (text) => reporter.message('notice', text),
    tick: () => reporter.tick(),
    end: () => reporter.end(),
  };
}
