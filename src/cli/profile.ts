/**
 * --profile <file>: where a command's wall time went, collected on the inference worker (see
 * media/profile.ts), written as JSON to <file> and shown as a short table on stderr at the end.
 */
import type { Argv } from 'yargs';
import { assertWritable, writeFileAtomic } from '../media/atomic-file.js';
import { mergeProfiles, type Profile } from '../media/profile.js';
import { EXIT, UserError } from './errors.js';

export interface ProfileArgs {
  profile: string | undefined;
}

/** Declares --profile on a command that runs a model; a file that cannot be written is refused before any work. */
export function withProfileOption<T>(y: Argv<T>): Argv<T & ProfileArgs> {
  return y
    .option('profile', {
      type: 'string',
      requiresArg: true,
      describe: 'write where the time went (model load, each graph\'s calls, copies, JavaScript between calls, I/O, transformer GFLOP/s) as JSON to this file, and a short table on stderr',
      group: 'Model:',
    })
    .middleware(async (argv: { profile?: unknown }) => {
      if (argv.profile === undefined) return;
      if (typeof argv.profile !== 'string' || argv.profile === '') throw new UserError('Expected a file name for --profile', EXIT.usage);
      await assertWritable(argv.profile).catch((err: Error) => {
        throw new UserError(`--profile: ${err.message}`, EXIT.usage);
      });
    }) as Argv<T & ProfileArgs>;
}

/** Collects the profiles of a command's tasks; `finish` writes the file and the table. */
export interface ProfileSink {
  /** the hook to give each task (undefined without --profile) */
  readonly onProfile: ((p: Profile) => void) | undefined;
  /** writes <file> and the table (nothing without --profile or without a finished task) */
  finish(): Promise<void>;
}

/**
 * The command's own times beside its tasks' profile, in milliseconds since the process started
 * (performance.now() on the main thread): what the tasks' wall time leaves out.
 */
export interface CommandTimes {
  /** from the start of the process to the end of its tasks (when the profile is written) */
  readonly wallMs: number;
  /** from the start of the process until its tasks were handed to the worker: Node's start, loading the command line, parsing, the checks; the pack's load runs beside them on the worker */
  readonly beforeTasksMs: number;
}

/** A command's profile: its tasks' (media/profile.ts), and the command's own times. */
export type CommandProfile = Profile & { readonly command: CommandTimes };

/** Collects a command's task profiles from now on: make it right before the command hands its tasks to the worker. */
export function profileSink(path: string | undefined, stream: NodeJS.WritableStream = process.stderr): ProfileSink {
  const got: Profile[] = [];
  const tasksFrom = performance.now();
  return {
    onProfile: path === undefined ? undefined : (p) => got.push(p),
    async finish() {
      const merged = mergeProfiles(got);
      if (path === undefined || !merged) return;
      const p: CommandProfile = { ...merged, command: { wallMs: performance.now(), beforeTasksMs: tasksFrom } };
      await writeFileAtomic(path, Buffer.from(`${JSON.stringify(p, null, 2)}\n`));
      stream.write(profileTable(p, path));
    },
  };
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** The profile as a few aligned lines (with the command's own times when given). */
export function profileTable(p: Profile | CommandProfile, path?: string): string {
  const share = (ms: number) => (p.wallMs > 0 ? `${Math.round((100 * ms) / p.wallMs)}%` : '—');
  const rows: [string, number, string][] = [['model load', p.loadMs, '']];
  for (const [name, g] of Object.entries(p.graphs).sort((a, b) => b[1].ms - a[1].ms)) {
    const rate = g.gflopPerSecond !== undefined ? `, ${g.gflop!.toFixed(1)} GFLOP at ${g.gflopPerSecond.toFixed(1)} GFLOP/s` : '';
    rows.push([name, g.ms, `${g.calls} calls, mean ${g.meanMs.toFixed(1)} ms${rate}`]);
  }
  rows.push(['copies in', p.copies.inMs, mb(p.copies.inBytes)], ['copies out', p.copies.outMs, mb(p.copies.outBytes)]);
  rows.push(['JS between calls', p.betweenCallsMs, '']);
  for (const [kind, ms] of Object.entries(p.io)) if (ms > 0) rows.push([`I/O ${kind}`, ms, '']);
  rows.push(['rest', p.restMs, '']);
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.map(([name, ms, note]) => `  ${name.padEnd(width)}  ${s(ms).padStart(8)}  ${share(ms).padStart(4)}${note ? `  ${note}` : ''}`);
  const after = p.wallMs - p.loadMs;
  const inCalls = after > 0 ? ` (model calls ${Math.round((100 * p.modelMs) / after)}% of the time after load)` : '';
  const command = 'command' in p ? `command: ${s(p.command.wallMs)} since the process started, ${s(p.command.beforeTasksMs)} of it before the task (start-up, parsing, checks)\n` : '';
  return `${command}profile${path ? ` (${path})` : ''}: wall ${s(p.wallMs)}${inCalls}\n${lines.join('\n')}\n`;
}
