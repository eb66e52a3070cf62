/**
 * A batch's progress: one status line per running item (its phase and its own progress) and the
 * total (items done, overall fraction, elapsed time, time left), a line per finished item, and
 * periodic plain lines while items run. Items count equally in the total; skipped ones not at all.
 */
import type { Progress } from '../../edit/latent/progress.js';
import type { BatchEvent, ItemRunner } from '../../batch/run.js';
import type { PlannedItem } from '../../batch/plan.js';
import { bar, percent, phaseText, timeText } from './format.js';
import { progressEvent, type ProgressOutput } from './job-progress.js';
import { createReporter, processSeconds, type MessageType, type Reporter } from './reporter.js';
import { etaSeconds, expectedItemWork, overallTracker, type OverallTracker } from './work.js';

interface Running {
  readonly item: PlannedItem;
  readonly tracker: OverallTracker;
  last?: Progress;
}

export interface BatchProgress {
  onEvent(e: BatchEvent): void;
  message(type: MessageType, text: string): void;
  /** the runner factory, counting model calls and timing each model load */
  instrument(start: () => Promise<ItemRunner>): () => Promise<ItemRunner>;
  /** the timer's check (tests drive it with their clock) */
  tick(): void;
  end(): void;
  readonly calls: number;
  /** the longest model load of a worker, in seconds (undefined: none started) */
  readonly loadSeconds: number | undefined;
}

/** The one-line result of a finished item. */
function finishLine(e: Extract<BatchEvent, { type: 'finish' }>, total: number, finished: number): string {
  const r = e.report;
  const what = r.status === 'done' ? `done (${r.seconds.toFixed(1)} s)` : r.status === 'skipped' ? 'skipped (up to date)' : r.status === 'failed' ? `FAILED: ${r.reason}` : 'cancelled';
  return `[${finished}/${total}] ${e.item.id}: ${what}`;
}

export function batchProgress(total: number, o: ProgressOutput): BatchProgress {
  const now = o.now ?? processSeconds;
  const running = new Map<string, Running>();
  let finished = 0;
  let skipped = 0;
  let fraction = 0;
  let first: { t: number; f: number } | undefined;
  let calls = 0;
  let loadSeconds: number | undefined;

  const overall = (): number => {
    const counted = total - skipped;
    if (counted <= 0) return 1;
    let done = finished - skipped;
    for (const r of running.values()) done += r.tracker.fraction;
    fraction = Math.max(fraction, Math.min(1, done / counted));
    return fraction;
  };
  const itemText = (r: Running) => (r.last ? `${percent(r.tracker.fraction)} ${phaseText(r.last)}` : 'loading');
  const view = {
    lines(t: number): string[] {
      const f = fraction;
      const time = timeText(t, etaSeconds(first, f, t));
      if (o.mode === 'bar') {
        const width = Math.max(...[...running.keys()].map((id) => id.length), 4);
        const items = [...running.values()].map((r) => `  ${r.item.id.padEnd(width)} ${r.last ? `${percent(r.tracker.fraction).padStart(4)} ${bar(r.tracker.fraction, 12)} ${phaseText(r.last)}` : 'loading'}`);
        return [...items, `batch ${finished}/${total} items ${percent(f).padStart(4)} ${bar(f)} · ${time}`];
      }
      const items = [...running.values()].map((r) => `${r.item.id} (${itemText(r)})`);
      return [`batch: ${finished}/${total} items done, ${percent(f)}, ${time}${items.length > 0 ? `; running ${items.join(', ')}` : ''}`];
    },
    // the bar is redrawn at once when the items running change; plain lines come with the interval only
    key: () => (o.mode === 'bar' ? [...running.keys()].join('\n') : ''),
  };
  const reporter: Reporter = createReporter({ stream: o.stream ?? process.stderr, mode: o.mode, view, now, ...(o.timer !== undefined ? { timer: o.timer } : {}) });
  reporter.changed(); // the total while the first model loads, and the timer that keeps it moving

  return {
    onEvent(e) {
      const t = now();
      const id = e.item.id;
      switch (e.type) {
        case 'start':
          first ??= { t, f: overall() };
          running.set(id, { item: e.item, tracker: overallTracker(expectedItemWork(e.item, e.pending.length)) });
          reporter.event({ type: 'item-start', item: id, outputs: e.pending.length });
          break;
        case 'progress': {
          const r = running.get(id);
          if (!r) return;
          r.tracker.update(e.progress, t);
          r.last = e.progress;
          const f = overall();
          reporter.event({ ...progressEvent(e.progress, f, t, etaSeconds(first, f, t)), item: id, itemOverall: Number(r.tracker.fraction.toFixed(4)) });
          break;
        }
        case 'warning':
          reporter.message('warning', `${id}: ${e.message}`, { item: id });
          return;
        case 'finish': {
          const wasRunning = running.delete(id);
          // an item cancelled before it started is not reported
          if (e.report.status === 'cancelled' && !wasRunning) return;
          finished += 1;
          if (e.report.status === 'skipped') skipped += 1;
          overall();
          const r = e.report;
          reporter.line(finishLine(e, total, finished), {
            type: 'item',
            item: id,
            status: r.status,
            ...(r.reason !== undefined ? { reason: r.reason } : {}),
            seconds: r.seconds,
            outputs: r.outputs,
            done: finished,
            total,
          });
          break;
        }
      }
      reporter.changed();
    },
    message: (type, text) => reporter.message(type, text),
    instrument(start) {
      return async () => {
        const t0 = now();
        const runner = await start();
        loadSeconds = Math.max(loadSeconds ?? 0, now() - t0);
        return {
          get healthy() {
            return runner.healthy;
          },
          run: async (item, pending, hooks) => {
            const outputs = await runner.run(item, pending, hooks);
            for (const out of outputs) calls += out.calls;
            return outputs;
          },
          close: () => runner.close(),
        };
      };
    },
    tick: () => reporter.tick(),
    end: () => reporter.end(),
    get calls() {
      return calls;
    },
    get loadSeconds() {
      return loadSeconds;
    },
  };
}
