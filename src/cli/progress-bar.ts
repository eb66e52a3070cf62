/**
 * A one-line progress display of labelled stages (flowedit layers): a bar redrawn in place on a
 * terminal and cleared at the end; elsewhere a line when the stage changes and every 10 s.
 */
import { bar, duration } from './progress/format.js';
import { createReporter, processSeconds, progressMode, type ProgressStream } from './progress/reporter.js';

export interface ProgressLine {
  update(label: string, done: number, total: number): void;
  /** a line for the user, shown in every mode (the bar redrawn below it) */
  notice(text: string): void;
  done(): void;
}

export function progressLine(stream: ProgressStream = process.stderr, quiet = false): ProgressLine {
  let state: { label: string; done: number; total: number } | undefined;
  const mode = progressMode(undefined, quiet, stream);
  const view = {
    lines: (t: number) => {
      if (!state) return [];
      const { label, done, total } = state;
      const f = total > 0 ? done / total : 0;
      return [mode === 'bar' ? `${label.padEnd(13)} ${bar(f, 24)} ${done}/${total} · ${duration(t)} elapsed` : `flowedit: ${label} ${done}/${total}, ${duration(t)} elapsed`];
    },
    key: () => state?.label ?? '',
  };
  const reporter = createReporter({ stream, mode: mode === 'json' ? 'none' : mode, view, now: processSeconds });
  return {
    update(label, done, total) {
      state = { label, done, total };
      reporter.changed();
    },
    notice: (text) => reporter.message('notice', text),
    done: () => reporter.end(),
  };
}
