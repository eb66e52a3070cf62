/**
 * How a command ends: the final line for people (with the whole wall time, start-up and model
 * load included), the `done` event of --progress json, and with --json one JSON object on stdout,
 * for success and failure alike.
 */
import { join } from 'node:path';
import type { BatchReport } from '../../batch/run.js';
import type { Phase } from '../../edit/latent/progress.js';
import { EXIT, reportError, UserError } from '../errors.js';
import type { JobSummary } from '../../jobs/job.js';
import type { ProgressOutput } from './job-progress.js';
import { createReporter, processSeconds, progressMode, PROGRESS_CHOICES, type ProgressChoice } from './reporter.js';

/** The flags that decide where output goes. */
export interface ResultArgs {
  readonly quiet: boolean;
  /** --json: one result object on stdout */
  readonly json?: boolean;
  /** --progress */
  readonly progress?: ProgressChoice;
}

/** The commands that take --json (they run a model and write outputs). */
export const JSON_COMMANDS = ['invert', 'reconstruct', 'edit', 'swap', 'generate', 'batch'] as const;

export function progressOutput(a: ResultArgs): ProgressOutput {
  return { mode: progressMode(a.progress, a.quiet, process.stderr) };
}

/** A job's summary as the command line sees it: the files it wrote and where its time went. */
export interface RunSummary extends JobSummary {
  readonly outputs: readonly string[];
  readonly phaseSeconds?: Readonly<Partial<Record<Phase, number>>>;
}

const sec = (x: number) => Number(x.toFixed(2));

function phases(p: Readonly<Partial<Record<Phase, number>>> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(p ?? {}).map(([k, v]) => [k, sec(v!)]));
}

/** Writes one line of JSON on stdout. */
function printJson(doc: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

/**
 * The end of a command that ran one job: "wrote out.png (42 model calls) in 10.2 s (model load
 * 1.1 s)", every file it wrote named, on stderr (or a done event), and with --json the result on stdout. `settings` is what
 * the command ran with, as --print-config shows it (its `command` names the command).
 */
export function reportDone(what: string, summary: RunSummary, a: ResultArgs, settings: Readonly<Record<string, unknown>> & { readonly command: string }): void {
  const wall = processSeconds();
  const load = summary.loadSeconds;
  const timings = { wallSeconds: sec(wall), ...(load !== undefined ? { loadSeconds: sec(load) } : {}), workerSeconds: sec(summary.seconds), phases: phases(summary.phaseSeconds) };
  const reporter = createReporter({ ...progressOutput(a), stream: process.stderr, view: { lines: () => [], key: () => '' }, timer: false });
  const loadText = load !== undefined ? ` (model load ${load.toFixed(1)} s)` : '';
  reporter.line(`${what} ${summary.outputs.join(', ')} (${summary.calls} model calls) in ${wall.toFixed(1)} s${loadText}`, {
    type: 'done',
    command: settings.command,
    outputs: summary.outputs,
    calls: summary.calls,
    ...timings,
  });
  if (a.json) printJson({ command: settings.command, outputs: summary.outputs, settings, timings, calls: summary.calls });
}

/** The end of a batch: its summary for people (stdout, or stderr with --json) and with --json the result on stdout. */
export function reportBatchDone(
  a: ResultArgs,
  r: { report: BatchReport; reportFile: string; summary: string; settings: Readonly<Record<string, unknown>>; exitCode: number; calls: number; loadSeconds: number | undefined },
): void {
  const made = r.report.items.filter((i) => i.status === 'done' || i.status === 'skipped');
  const outputs = made.flatMap((i) => i.outputs.map((o) => join(r.report.outDir, o)));
  const timings = { wallSeconds: sec(processSeconds()), ...(r.loadSeconds !== undefined ? { loadSeconds: sec(r.loadSeconds) } : {}) };
  const jsonProgress = progressOutput(a).mode === 'json';
  if (jsonProgress) {
    process.stderr.write(`${JSON.stringify({ type: 'done', command: 'batch', outputs, calls: r.calls, counts: r.report.counts, report: r.reportFile, exitCode: r.exitCode, ...timings })}\n`);
  }
  if (!a.json) {
    process.stdout.write(r.summary);
    return;
  }
  if (!jsonProgress) process.stderr.write(r.summary);
  printJson({
    command: 'batch',
    outputs,
    settings: r.settings,
    timings,
    calls: r.calls,
    report: r.reportFile,
    counts: r.report.counts,
    items: r.report.items.map((i) => ({ id: i.id, status: i.status, ...(i.reason !== undefined ? { reason: i.reason } : {}), outputs: i.outputs, seconds: i.seconds })),
    exitCode: r.exitCode,
  });
}

/** The command and the output flags as typed (for a failure, reported before or without yargs' parse). */
export function resultFlags(argv: readonly string[]): { json: boolean; progress: ProgressChoice | undefined } {
  let command: string | undefined;
  let json = false;
  let progress: ProgressChoice | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '--json' || arg === '--json=true') json = true;
    else if (arg === '--no-json' || arg === '--json=false') json = false;
    else if (arg === '--progress' || arg.startsWith('--progress=')) {
      const value = arg === '--progress' ? argv[++i] : arg.slice('--progress='.length);
      if ((PROGRESS_CHOICES as readonly string[]).includes(value ?? '')) progress = value as ProgressChoice;
    } else if (command === undefined && !arg.startsWith('-')) command = arg;
  }
  return { json: json && (JSON_COMMANDS as readonly string[]).includes(command ?? ''), progress };
}

/**
 * Reports a failure and returns the exit status: the message on stderr (an {type: "error"} line
 * with --progress json), and with --json {error, exitCode} on stdout as well.
 */
export function reportFailure(err: unknown, verbose: boolean, argv: readonly string[]): number {
  const flags = resultFlags(argv);
  let code: number;
  if (flags.progress === 'json') {
    code = err instanceof UserError ? err.exitCode : EXIT.failed;
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`${JSON.stringify({ type: 'error', message: e.message, exitCode: code, ...(verbose && e.stack ? { stack: e.stack } : {}) })}\n`);
  } else code = reportError(err, verbose);
  if (flags.json) printJson({ error: err instanceof Error ? err.message : String(err), exitCode: code });
  return code;
}
