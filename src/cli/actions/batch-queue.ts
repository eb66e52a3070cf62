/**
 * `flowedit batch --queue URL [--wait]`: the checked plan goes on the Redis queue as one job per
 * item (an item's outputs share its inversion or prepared swap source, as in a local batch), items
 * already finished are left out; with --wait the batch is followed to its end and reported as a
 * local batch is. No lock is taken: workers on many machines write the folder.
 */
import type { Progress } from '../../edit/latent/progress.js';
import type { BatchPlan, PlannedItem } from '../../batch/plan.js';
import { openQueue, QUEUE_NAME, type JobView } from '../../batch/queue.js';
import { itemJobs, type BatchRequest } from '../../batch/queue-job.js';
import type { ItemJobResult } from '../../batch/queue-worker.js';
import { redactUrl } from '../../batch/redis-url.js';
import { reportPath, writeBatchReport } from '../../batch/report.js';
import { htmlReportPath, writeHtmlReport } from '../../batch/html-report.js';
import { itemReport, type BatchReport, type ItemReport, type ItemStatus } from '../../batch/run.js';
import { isDone } from '../../batch/sidecar.js';
import { batchProgress } from '../progress/batch-progress.js';
import { progressOutput, reportBatchDone, type ResultArgs } from '../progress/result.js';
import { EXIT, UserError } from '../errors.js';
import { checkOutput, userCheck } from './common.js';

export interface QueueBatchArgs extends ResultArgs {
  readonly queue: string;
  readonly wait: boolean;
  readonly html: boolean;
}

/** How often --wait looks at the jobs. */
const POLL_MS = 500;

const PHASES = ['encode', 'invert', 'mask', 'sample', 'decode'];
function progressOf(p: unknown): Progress | undefined {
  if (typeof p !== 'object' || p === null) return undefined;
  const o = p as Record<string, unknown>;
  if (typeof o.phase !== 'string' || !PHASES.includes(o.phase) || typeof o.step !== 'number' || typeof o.steps !== 'number') return undefined;
  const w = o.window as { index?: unknown; count?: unknown } | undefined;
  const window = w && typeof w.index === 'number' && typeof w.count === 'number' ? { window: { index: w.index, count: w.count } } : {};
  return { phase: o.phase as Progress['phase'], step: o.step, steps: o.steps, ...window };
}

export async function queueBatch(a: QueueBatchArgs, plan: BatchPlan, request: BatchRequest, settings: Record<string, unknown>): Promise<void> {
  const shown = redactUrl(a.queue);
  if (a.wait) {
    await checkOutput(reportPath(plan.outDir));
    if (a.html) await checkOutput(htmlReportPath(plan.outDir));
  }
  // 1. what is left to do: an item whose every output has a matching sidecar is not queued
  const pendingOf = new Map<PlannedItem, string[]>();
  for (const item of plan.items) {
    const pending: string[] = [];
    for (const out of item.outputs) if (!(await isDone(out))) pending.push(out.code);
    pendingOf.set(item, pending);
  }
  const jobs = itemJobs(plan, request).filter((j) => pendingOf.get(j.item)!.length > 0);
  const queue = await userCheck(() => openQueue(a.queue));
  try {
    // a finished job of an item with outputs still to make (deleted, or the job failed) is queued again
    const { added, present } = await userCheck(() => queue.add(jobs, () => true));
    const outputs = jobs.filter((j) => added.includes(j.id)).reduce((n, j) => n + pendingOf.get(j.item)!.length, 0);
    const skipped = plan.items.length - jobs.length;
    const line = `queued ${added.length} items (${outputs} outputs) to ${shown} queue ${QUEUE_NAME}; ${skipped} already done${present.length > 0 ? `, ${present.length} already queued` : ''}\n`;
    (a.json ? process.stderr : process.stdout).write(line);
    if (!a.wait) return;
    // 2. --wait: follow every job of this batch until it completed or failed
    const report = await follow(a, plan, jobs, pendingOf, queue.view.bind(queue));
    let reportFile = await writeBatchReport(report);
    if (a.html) reportFile += `, ${await writeHtmlReport(plan, report)}`;
    const c = report.counts;
    const lines = [`batch: ${c.done} done, ${c.skipped} skipped, ${c.failed} failed (report: ${reportFile})`];
    for (const r of report.items.filter((i) => i.status === 'failed')) lines.push(`  failed item ${r.index} (${r.id}): ${r.reason}`);
    if (c.failed > 0) lines.push(`  after fixing the cause: flowedit queue retry-failed ${shown}`);
    const exitCode = c.failed > 0 ? EXIT.failed : EXIT.ok;
    reportBatchDone(a, { report, reportFile, summary: `${lines.join('\n')}\n`, settings, exitCode, calls: 0, loadSeconds: undefined });
    if (exitCode !== EXIT.ok) process.exitCode = exitCode;
  } finally {
    await queue.close();
  }
}

async function follow(
  a: QueueBatchArgs,
  plan: BatchPlan,
  jobs: readonly { id: string; item: PlannedItem }[],
  pendingOf: ReadonlyMap<PlannedItem, string[]>,
  view: (ids: readonly string[]) => Promise<JobView[]>,
): Promise<BatchReport> {
  const progress = batchProgress(plan.items.length, progressOutput(a));
  const reports = new Map<PlannedItem, ItemReport>();
  const finish = (item: PlannedItem, status: ItemStatus, seconds: number, reason?: string) => {
    const r = itemReport(plan, item, status, seconds, reason);
    reports.set(item, r);
    progress.onEvent({ type: 'finish', item, report: r });
  };
  try {
    for (const item of plan.items) if (pendingOf.get(item)!.length === 0) finish(item, 'skipped', 0);
    const open = new Map(jobs.map((j) => [j.id, j.item]));
    const started = new Set<string>();
    const lastProgress = new Map<string, string>();
    while (open.size > 0) {
      for (const v of await view([...open.keys()])) {
        const item = open.get(v.id)!;
        const start = () => {
          if (started.has(v.id)) return;
          started.add(v.id);
          progress.onEvent({ type: 'start', item, pending: pendingOf.get(item)! });
        };
        const seconds = v.processedOn && v.finishedOn ? Math.round((v.finishedOn - v.processedOn) / 10) / 100 : 0;
        if (v.state === 'active') {
          start();
          const p = progressOf(v.progress);
          const text = JSON.stringify(p);
          if (p && lastProgress.get(v.id) !== text) {
            lastProgress.set(v.id, text);
            progress.onEvent({ type: 'progress', item, progress: p });
          }
        } else if (v.state === 'completed') {
          start();
          open.delete(v.id);
          finish(item, 'done', (v.returnValue as ItemJobResult | undefined)?.seconds ?? seconds);
        } else if (v.state === 'failed' || v.state === 'unknown') {
          start();
          open.delete(v.id);
          finish(item, 'failed', seconds, v.state === 'unknown' ? 'the job was removed from the queue (drained?)' : (v.failedReason ?? 'failed'));
        }
      }
      if (open.size > 0) await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    progress.end();
  }
  const items = plan.items.map((i) => reports.get(i)!);
  const counts = { done: 0, skipped: 0, failed: 0, cancelled: 0 };
  for (const r of items) counts[r.status] += 1;
  return { format: 'flowedit.batch-report', version: 1, manifest: plan.manifest, outDir: plan.outDir, model: plan.model, batchSeed: plan.batchSeed, concurrency: 0, counts, items };
}

/** A usage error for a bad --queue URL. */
export function queueUsage(message: string): UserError {
  return new UserError(message, EXIT.usage);
}
