import { mkdir } from 'node:fs/promises';
import { constants } from 'node:os';
import { relative, resolve } from 'node:path';
import { readManifest } from '../../batch/manifest.js';
import { planBatch, type BatchPlan } from '../../batch/plan.js';
import { lockOutDir } from '../../batch/lock.js';
import { looksLikePath } from '../../jobs/presets.js';
import { reportPath, writeBatchReport } from '../../batch/report.js';
import { htmlReportPath, writeHtmlReport } from '../../batch/html-report.js';
import { runBatch, type BatchReport } from '../../batch/run.js';
import { startPoolRunner } from '../../batch/pool-runner.js';
import { threadShare } from '../../model/threads.js';
import { profileSink, type ProfileArgs } from '../profile.js';
import type { Shard } from '../../batch/shard.js';
import { RANDOM_SEED, seedFor } from '../../edit/frames/seeds.js';
import { sayDrawnSeed } from '../variants.js';
import { batchProgress } from '../progress/batch-progress.js';
import { progressOutput, reportBatchDone } from '../progress/result.js';
import { EXIT, UserError } from '../errors.js';
import type { EditArgs, GlobalArgs, ModelArgs, PresetArgs, ShiftArgs, SolverArgs, VideoArgs } from '../options.js';
import { requestRecipe, type SettingRequest } from '../../jobs/checks.js';
import { checkOutput, checkModelFlags, printedConfig, resolvePack, userCheck } from './common.js';
import { checkRedisUrl } from '../../batch/redis-url.js';
import { probeRedis } from '../../batch/queue.js';
import type { BatchRequest } from '../../batch/queue-job.js';

/** The parsed command line; yargs gives each setting flag by its camelCase name too (SettingRequest). */
export type BatchArgs = GlobalArgs & ModelArgs & ProfileArgs & SolverArgs & ShiftArgs & EditArgs & PresetArgs & Pick<VideoArgs, 'ffmpeg'> & SettingRequest & {
  manifest: string;
  out: string;
  concurrency: number;
  'allow-inputs-outside': boolean;
  'max-input-pixels': number;
  html: boolean;
  /** --shard i/N, read as the command line is parsed */
  shard: Shard | undefined;
  /** redis://…: enqueue the items for `flowedit worker` instead of running them */
  queue: string | undefined;
  wait: boolean;
};

/** Signals that stop a batch as Ctrl-C does; the exit status is 128 + the signal's number. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];
const exitFor = (sig: StopSignal): number => (sig === 'SIGINT' ? EXIT.cancelled : 128 + constants.signals[sig]);

function planConfig(plan: BatchPlan): Record<string, unknown> {
  return {
    command: 'batch',
    model: plan.model,
    batchSeed: plan.batchSeed,
    items: plan.items.map((i) => ({
      id: i.id,
      command: i.command,
      preset: i.preset ?? null,
      input: i.input,
      sourcePrompt: i.sourcePrompt,
      settings: i.settings,
      outputs: i.outputs.map((o) => ({ file: relative(plan.outDir, o.file), ...(o.targetPrompt !== undefined ? { targetPrompt: o.targetPrompt } : {}) })),
    })),
  };
}

function summary(report: BatchReport, reportFile: string): string {
  const c = report.counts;
  const lines = [`batch: ${c.done} done, ${c.skipped} skipped, ${c.failed} failed${c.cancelled ? `, ${c.cancelled} cancelled` : ''} (report: ${reportFile})`];
  for (const r of report.items.filter((i) => i.status === 'failed')) lines.push(`  failed item ${r.index} (${r.id}): ${r.reason}`);
  if (c.cancelled) lines.push('  run the same command again to finish the batch');
  return `${lines.join('\n')}\n`;
}

export async function batchAction(a: BatchArgs): Promise<void> {
  // 1. flags, pack, manifest, every item: checked before anything runs
  const model = checkModelFlags(a);
  if (!(Number.isInteger(a.concurrency) && a.concurrency > 0)) throw new UserError(`Expected a positive integer for --concurrency but received ${a.concurrency}`);
  if (model.device !== undefined && a.concurrency > 1) {
    // several workers each opening the device crash onnxruntime-node 1.30's WebGPU provider
    throw new UserError(`--concurrency ${a.concurrency} with --device ${model.device}: on a device the items run one at a time, each call using the whole device; leave --concurrency out, or use --device cpu to run items side by side`);
  }
  if (a.wait && a.queue === undefined) throw new UserError('--wait follows a queued batch: give --queue redis://host:port as well', EXIT.usage);
  if (a.shard && a.queue !== undefined) throw new UserError('--shard splits a batch across machines without a queue; with --queue every worker takes items from the one queue: leave --shard out', EXIT.usage);
  if (a.queue !== undefined) {
    const url = a.queue;
    await userCheck(() => checkRedisUrl(url)).catch((err: Error) => {
      throw new UserError(err.message, EXIT.usage);
    });
    // before the inputs are hashed: a Redis that is not there is said at once
    if (!a['print-config']) await userCheck(() => probeRedis(url));
  }
  const given = a.seed ?? 0;
  if (!(Number.isInteger(given) && given >= RANDOM_SEED)) throw new UserError(`Expected a non-negative integer (or -1 for a random one) for --seed but received ${given}`);
  const batchSeed = seedFor(given); // -1: drawn here; the report and every item's record hold it
  sayDrawnSeed(a, batchSeed, 1);
  const pack = await resolvePack(a);
  const manifest = await userCheck(() => readManifest(a.manifest));
  // --preset is the default for items that name none; its path is relative to here, not the manifest
  const cliPreset = a.preset !== undefined && looksLikePath(a.preset) ? resolve(a.preset) : a.preset;
  const items = manifest.items.map((i) => (i.preset === undefined && cliPreset !== undefined ? { ...i, preset: cliPreset } : i));
  const flags = await userCheck(() => ({ ...requestRecipe(a), seed: undefined }));
  const plan = await userCheck(() =>
    planBatch({ ...manifest, items }, pack, {
      outDir: a.out,
      batchSeed,
      flags,
      allowInputsOutside: a['allow-inputs-outside'] === true,
      maxInputPixels: a['max-input-pixels'],
      ...(a.shard ? { shard: a.shard } : {}),
      ...(a.ffmpeg !== undefined ? { ffmpeg: a.ffmpeg } : {}),
    }),
  );
  if (printedConfig({ 'print-config': a['print-config'] }, planConfig(plan))) return;
  await userCheck(() => mkdir(plan.outDir, { recursive: true }));
  if (a.queue !== undefined) {
    const request: BatchRequest = {
      manifest: resolve(manifest.file),
      outDir: plan.outDir,
      packDir: resolve(plan.packDir),
      flags,
      ...(cliPreset !== undefined ? { preset: cliPreset } : {}),
      batchSeed,
      maxInputPixels: a['max-input-pixels'],
      allowInputsOutside: a['allow-inputs-outside'] === true,
      ...(a.ffmpeg !== undefined ? { ffmpeg: a.ffmpeg } : {}),
    };
    const { queueBatch } = await import('./batch-queue.js');
    await queueBatch({ ...a, queue: a.queue }, plan, request, planConfig(plan));
    return;
  }
  await checkOutput(reportPath(plan.outDir, plan.shard));
  if (a.html) await checkOutput(htmlReportPath(plan.outDir, plan.shard));
  const controller = new AbortController();
  const lock = await userCheck(() =>
    lockOutDir(plan.outDir, {
      ...(a.shard ? { shard: a.shard } : {}),
      onLost: (message) => {
        process.stderr.write(`flowedit: ${message} while this batch was stopped; finishing no new items\n`);
        controller.abort();
      },
    }),
  );

  // 2. workers: one model session each, sharing the CPU threads
  const workers = Math.min(a.concurrency, plan.items.length);
  const perWorker = threadShare(workers, model.threads);
  // Ctrl-C or SIGTERM: no new items, the running ones cancelled after their current step, then
  // the report and the lock's removal as usual; a second signal stops at once (the lock removed)
  let stoppedBy: StopSignal | undefined;
  const onSignal = (sig: StopSignal) => {
    if (stoppedBy === undefined) {
      stoppedBy = sig;
      progress.message('notice', `${sig === 'SIGINT' ? 'interrupted' : 'terminated'}: finishing no new items; cancelling the running ones after their current step (${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again to stop now)`);
      controller.abort();
    } else {
      progress.message('notice', 'stopped; finished outputs are kept, run again to finish the batch');
      lock.releaseSync();
      process.exit(exitFor(stoppedBy));
    }
  };
  const progress = batchProgress(plan.items.length, progressOutput(a));
  const handlers = STOP_SIGNALS.map((sig) => [sig, () => onSignal(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  let report: BatchReport;
  let reportFile: string;
  const profile = profileSink(a.profile);
  try {
    report = await runBatch(plan, {
      concurrency: workers,
      startRunner: progress.instrument(() => startPoolRunner({ packDir: plan.packDir, threads: perWorker, ...(model.device ? { device: model.device } : {}) }, profile.onProfile)),
      signal: controller.signal,
      onEvent: (e) => progress.onEvent(e),
    });
    // 3. report and summary
    reportFile = await writeBatchReport(report);
    if (a.html) reportFile += `, ${await writeHtmlReport(plan, report)}`;
  } finally {
    progress.end();
    for (const [sig, h] of handlers) process.off(sig, h);
    await lock.release();
  }
  const exitCode = report.counts.failed > 0 ? EXIT.failed : stoppedBy !== undefined ? exitFor(stoppedBy) : report.counts.cancelled > 0 ? EXIT.cancelled : EXIT.ok;
  reportBatchDone(a, { report, reportFile, summary: summary(report, reportFile), settings: planConfig(plan), exitCode, calls: progress.calls, loadSeconds: progress.loadSeconds });
  await profile.finish();
  if (exitCode !== EXIT.ok) process.exitCode = exitCode;
}
