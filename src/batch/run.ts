/**
 * Runs a plan: skips finished outputs, fans the rest out over `concurrency` item runners with
 * p-limit (each runner holds one loaded model and takes one item at a time), keeps going past a
 * failing item, and returns the report. Progress leaves through `onEvent`; nothing prints.
 */
import { mkdir } from 'node:fs/promises';
import { relative } from 'node:path';
import pLimit from 'p-limit';
import type { Progress } from '../edit/latent/progress.js';
import type { OutputDone } from './execute.js';
import type { BatchPlan, PlannedItem } from './plan.js';
import { isDone, removeStaleTemps } from './sidecar.js';
import type { Shard } from './shard.js';

export interface ItemRunner {
  /** Makes the pending outputs of one item. */
  run(item: PlannedItem, pending: readonly string[], hooks: { signal: AbortSignal; onProgress: (p: Progress) => void; onWarning: (message: string) => void }): Promise<OutputDone[]>;
  /** false once the runner broke (its worker died): it is closed and replaced */
  readonly healthy: boolean;
  close(): Promise<void>;
}

export type ItemStatus = 'done' | 'skipped' | 'failed' | 'cancelled';

export interface ItemReport {
  readonly index: number;
  readonly id: string;
  readonly command: string;
  readonly status: ItemStatus;
  readonly reason?: string;
  readonly seed: number;
  /** output files, relative to the output folder */
  readonly outputs: readonly string[];
  readonly seconds: number;
}

export interface BatchReport {
  readonly format: 'flowedit.batch-report';
  readonly version: 1;
  readonly manifest: string;
  readonly outDir: string;
  readonly model: string;
  readonly batchSeed: number;
  readonly concurrency: number;
  readonly counts: Readonly<Record<ItemStatus, number>>;
  readonly items: readonly ItemReport[];
  /** --shard: the report covers this shard's items */
  readonly shard?: Shard;
}

export type BatchEvent =
  | { readonly type: 'start'; readonly item: PlannedItem; readonly pending: readonly string[] }
  | { readonly type: 'progress'; readonly item: PlannedItem; readonly progress: Progress }
  | { readonly type: 'warning'; readonly item: PlannedItem; readonly message: string }
  | { readonly type: 'finish'; readonly item: PlannedItem; readonly report: ItemReport };

export interface RunBatchOptions {
  readonly concurrency: number;
  /** starts one runner (a worker with its own model session) */
  readonly startRunner: () => Promise<ItemRunner>;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: BatchEvent) => void;
}

/** An item's line in the batch report. */
export function itemReport(plan: Pick<BatchPlan, 'outDir'>, item: PlannedItem, status: ItemStatus, seconds: number, reason?: string): ItemReport {
  return {
    index: item.index,
    id: item.id,
    command: item.command,
    status,
    ...(reason !== undefined ? { reason } : {}),
    seed: item.settings.seed,
    outputs: item.outputs.map((out) => relative(plan.outDir, out.file)),
    seconds,
  };
}

export async function runBatch(plan: BatchPlan, o: RunBatchOptions): Promise<BatchReport> {
  if (!(Number.isInteger(o.concurrency) && o.concurrency > 0)) throw new Error(`Expected a positive integer for concurrency but received ${o.concurrency}`);
  const signal = o.signal ?? new AbortController().signal;
  // 1. tidy what a killed run left, and find what is already done
  await mkdir(plan.outDir, { recursive: true });
  await removeStaleTemps(plan.items.flatMap((i) => i.outputs));
  const pendingOf = new Map<PlannedItem, string[]>();
  for (const item of plan.items) {
    const pending: string[] = [];
    for (const out of item.outputs) if (!(await isDone(out))) pending.push(out.code);
    pendingOf.set(item, pending);
  }
  // 2. a pool of runners, started on demand, at most `concurrency`
  const idle: ItemRunner[] = [];
  const all: ItemRunner[] = [];
  const acquire = async () => {
    const r = idle.pop() ?? (await o.startRunner());
    if (!all.includes(r)) all.push(r);
    return r;
  };
  const limit = pLimit(o.concurrency);
  const report = (item: PlannedItem, status: ItemStatus, started: number, reason?: string): ItemReport => {
    const r = itemReport(plan, item, status, Math.round((performance.now() - started) / 10) / 100, reason);
    o.onEvent?.({ type: 'finish', item, report: r });
    return r;
  };
  // 3. run the items with pending outputs; one failure does not stop the others
  const runOne = async (item: PlannedItem): Promise<ItemReport> => {
    const started = performance.now();
    const pending = pendingOf.get(item)!;
    if (pending.length === 0) return report(item, 'skipped', started);
    if (signal.aborted) return report(item, 'cancelled', started, 'the batch was interrupted');
    let runner: ItemRunner | undefined;
    try {
      runner = await acquire();
      o.onEvent?.({ type: 'start', item, pending });
      await runner.run(item, pending, {
        signal,
        onProgress: (progress) => o.onEvent?.({ type: 'progress', item, progress }),
        onWarning: (message) => o.onEvent?.({ type: 'warning', item, message }),
      });
      return report(item, 'done', started);
    } catch (err) {
      if (signal.aborted) return report(item, 'cancelled', started, 'the batch was interrupted');
      return report(item, 'failed', started, (err as Error).message);
    } finally {
      if (runner?.healthy) idle.push(runner);
      else if (runner) await runner.close();
    }
  };
  try {
    const items = await Promise.all(plan.items.map((item) => limit(runOne, item)));
    const counts = { done: 0, skipped: 0, failed: 0, cancelled: 0 };
    for (const r of items) counts[r.status] += 1;
    return { format: 'flowedit.batch-report', version: 1, manifest: plan.manifest, outDir: plan.outDir, model: plan.model, batchSeed: plan.batchSeed, concurrency: o.concurrency, counts, items, ...(plan.shard ? { shard: plan.shard } : {}) };
  } finally {
    await Promise.all(all.map((r) => r.close()));
  }
}
