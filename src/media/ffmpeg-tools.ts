/**
 * Finding working ffmpeg and ffprobe binaries: an explicit path (`--ffmpeg`, the only one tried when given), else the
 * FLOWEDIT_FFMPEG environment variable, then PATH, then the binaries shipped inside the
 * @ffmpeg-installer/@ffprobe-installer npm packages. This is the only module that knows about
 * those packages; each candidate is checked by running it with `-version` (once: an unchanged
 * binary that ran before is remembered, checked-tools.ts). Also how flowedit starts
 * them: startTool (through tool-host.ts where it runs), and localFileUrl for the names of local files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { rememberedVersion, rememberVersion } from './checked-tools.js';
import { startHosted, warmHost, type HostedTool, type ToolEnd } from './tool-host.js';

export interface FfmpegTools {
  readonly ffmpeg: string;
  readonly ffprobe: string;
}

export const FFMPEG_ENV = 'FLOWEDIT_FFMPEG';

const INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg), ' +
  `or pass --ffmpeg <path to ffmpeg> (or set ${FFMPEG_ENV}); ffprobe must sit next to it or on PATH`;

/**
 * Runs `<bin> -version` (at most 15 s); resolves to the first line, or null when it does not run.
 * A binary that ran here before and is unchanged since is not run again (checked-tools.ts).
 */
async function versionOf(bin: string): Promise<string | null> {
  const remembered = rememberedVersion(bin);
  if (remembered !== null) return remembered;
  const proc = await startTool(bin, ['-version'], { stdout: 'pipe', signal: AbortSignal.timeout(15_000) });
  const chunks: Buffer[] = [];
  proc.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const end = await proc.exited;
  if (end.code !== 0) return null;
  const line = Buffer.concat(chunks).toString('utf8').split('\n')[0] ?? '';
  rememberVersion(bin, line);
  return line;
}

/** Paths of the binaries shipped in npm packages, or null when they are not installed. */
function npmBinary(pkg: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): string | null {
  try {
    const require = createRequire(import.meta.url);
    return (require(pkg) as { path: string }).path;
  } catch {
    return null;
  }
}

/** ffprobe candidates for a given ffmpeg: its sibling, then PATH, then npm's. */
function probeCandidates(ffmpeg: string): string[] {
  const sibling = ffmpeg.includes('/') || ffmpeg.includes('\\') ? join(dirname(ffmpeg), process.platform === 'win32' ? 'ffprobe.exe' : 'ffprobe') : null;
  const npm = npmBinary('@ffprobe-installer/ffprobe');
  return [...(sibling && existsSync(sibling) ? [sibling] : []), 'ffprobe', ...(npm ? [npm] : [])];
}

/**
 * The ffprobe that goes with `ffmpeg`, its first candidate checked at once, beside ffmpeg's own
 * check (each -version run is mostly the binary starting up, ~0.1 s here): `working` resolves to
 * the first candidate that runs, trying the others in turn; `settled` once the first one's check is over.
 */
function checkedBeside(ffmpeg: string): { working: () => Promise<string | null>; settled: Promise<unknown> } {
  const [first, ...rest] = probeCandidates(ffmpeg);
  const firstRuns = first !== undefined ? versionOf(first) : Promise.resolve(null);
  return {
    settled: firstRuns,
    async working() {
      if (first !== undefined && (await firstRuns)) return first;
      for (const ffprobe of rest) if (await versionOf(ffprobe)) return ffprobe;
      return null;
    },
  };
}

const cache = new Map<string, Promise<FfmpegTools>>();
/** findFfmpeg's answers that have settled as found */
const settled = new Map<string, FfmpegTools>();

/**
 * Finds ffmpeg and ffprobe. `explicit` (from --ffmpeg), when given, is the only one tried: a path
 * that does not work is an error naming it. Otherwise FLOWEDIT_FFMPEG, then PATH, then the
 * npm-shipped binaries. Throws one message saying what was tried and how to
 * install ffmpeg when none works. Results are cached per explicit path.
 */
export function findFfmpeg(explicit?: string): Promise<FfmpegTools> {
  const key = `${explicit ?? ''}\0${process.env[FFMPEG_ENV] ?? ''}`;
  let found = cache.get(key);
  if (!found) {
    found = locate(explicit);
    cache.set(key, found);
    found.then(
      (tools) => void settled.set(key, tools),
      () => void cache.delete(key),
    );
  }
  return found;
}

async function locate(explicit: string | undefined): Promise<FfmpegTools> {
  if (explicit) {
    // a path the user named is used or refused, never silently replaced by another ffmpeg
    const probes = checkedBeside(explicit);
    if (!(await versionOf(explicit))) {
      await probes.settled;
      throw new Error(`--ffmpeg ${explicit} does not run as ffmpeg: give the path of a working ffmpeg binary, or leave out --ffmpeg to use the one on PATH`);
    }
    const ffprobe = await probes.working();
    if (ffprobe) return { ffmpeg: explicit, ffprobe };
    throw new Error(`--ffmpeg ${explicit} has no working ffprobe beside it or on PATH: put ffprobe next to it, or leave out --ffmpeg`);
  }
  const env = process.env[FFMPEG_ENV];
  const npm = npmBinary('@ffmpeg-installer/ffmpeg');
  const candidates = [...(env ? [env] : []), 'ffmpeg', ...(npm ? [npm] : [])];
  const tried: string[] = [];
  for (const ffmpeg of candidates) {
    const probes = checkedBeside(ffmpeg);
    if (!(await versionOf(ffmpeg))) {
      await probes.settled;
      tried.push(ffmpeg);
      continue;
    }
    const ffprobe = await probes.working();
    if (ffprobe) return { ffmpeg, ffprobe };
    tried.push(`${ffmpeg} (no working ffprobe beside it or on PATH)`);
  }
  throw new Error(`Video needs ffmpeg and ffprobe, and none works here (tried: ${tried.join(', ')}): ${INSTALL_HINT}`);
}

/** What this thread found out about its tools: findFfmpeg's answers and how children are started. */
export interface ToolFacts {
  readonly found: readonly (readonly [string, FfmpegTools])[];
  /** the death-signal command, once checked */
  readonly deathSignal?: readonly string[];
}

/** The tool facts this thread has, for another thread (keepToolFacts): a worker need not run each tool with -version again. */
export function toolFacts(): ToolFacts {
  return { found: [...settled], ...(deathSignalPrefix ? { deathSignal: deathSignalPrefix } : {}) };
}

/** Takes another thread's tool facts (toolFacts) for those this thread has not found out itself. */
export function keepToolFacts(facts: ToolFacts): void {
  for (const [key, tools] of facts.found) {
    if (cache.has(key) || typeof tools?.ffmpeg !== 'string' || typeof tools.ffprobe !== 'string') continue;
    const kept = { ffmpeg: tools.ffmpeg, ffprobe: tools.ffprobe };
    cache.set(key, Promise.resolve(kept));
    settled.set(key, kept);
  }
  if (deathSignalPrefix === undefined && Array.isArray(facts.deathSignal) && facts.deathSignal.every((a) => typeof a === 'string')) deathSignalPrefix = [...facts.deathSignal];
}

/** A running ffmpeg or ffprobe: its stdin and stdout where piped, how it ended (settling once its stdout has closed too), and the end of what it wrote to stderr. */
export interface ToolProcess extends HostedTool {
  /** the last non-empty lines of its stderr, joined with ' | ' */
  stderrTail(lines?: number): string;
}

/** Bytes of stderr kept per process: enough for ffmpeg's last messages. */
const STDERR_KEEP = 16_384;

let deathSignalPrefix: readonly string[] | undefined;

/**
 * The command that makes a child die with the thread that spawned it, on Linux: util-linux's
 * `setpriv --pdeathsig SIGKILL`, when it runs here. A killed flowedit (even SIGKILL) then leaves
 * no ffmpeg behind. Elsewhere (or without setpriv) the children are killed on cancel only, and a
 * decode stops by itself when its output pipe closes.
 */
function deathSignalCommand(): readonly string[] {
  if (deathSignalPrefix === undefined) {
    const works = process.platform === 'linux' && spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
    deathSignalPrefix = works ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];
  }
  return deathSignalPrefix;
}

/**
 * Starts `bin` with `args` (no shell), stdin and stdout as asked, stderr collected: through this
 * thread's tool host where there is one (tool-host.ts: on Linux, so that this process never
 * forks), else directly. The process is SIGKILLed when `signal` aborts (also when it had aborted
 * already), and on Linux when the thread that started it dies. Nothing here depends on timers:
 * `exited` settles once the process has exited and its stdout has closed.
 */
export async function startTool(
  bin: string,
  args: readonly string[],
  opts: { signal?: AbortSignal; stdin?: 'pipe' | 'ignore'; stdout?: 'pipe' | 'ignore' } = {},
): Promise<ToolProcess> {
  const prefix = deathSignalCommand();
  let stderr = '';
  const keep = (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP);
  };
  const stderrTail = (lines = 3) => stderr.trim().split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-lines).join(' | ');
  let tool: HostedTool | null;
  try {
    tool = await startHosted([...prefix, bin, ...args], prefix, { stdin: opts.stdin === 'pipe', stdout: opts.stdout === 'pipe', stderr: keep });
  } catch (err) {
    // the host runs but the tool did not start: reported through its exit, as a direct start would
    const error = err as Error;
    tool = {
      stdin: opts.stdin === 'pipe' ? new Writable({ write: (_chunk, _encoding, done) => done() }) : null,
      stdout: opts.stdout === 'pipe' ? Readable.from([]) : null,
      exited: Promise.resolve({ code: null, signal: null, error }),
      kill: () => undefined,
    };
  }
  tool ??= startDirect(bin, args, prefix, opts, keep);
  const { kill } = tool;
  const onAbort = () => kill();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) kill();
  const exited = tool.exited.finally(() => opts.signal?.removeEventListener('abort', onAbort));
  return { stdin: tool.stdin, stdout: tool.stdout, exited, stderrTail, kill };
}

/** Starts `bin` as a child of this process (where there is no tool host). */
function startDirect(
  bin: string,
  args: readonly string[],
  prefix: readonly string[],
  opts: { stdin?: 'pipe' | 'ignore'; stdout?: 'pipe' | 'ignore' },
  keep: (text: string) => void,
): HostedTool {
  const [command, ...rest] = [...prefix, bin, ...args];
  const child = spawn(command!, rest, { stdio: [opts.stdin ?? 'ignore', opts.stdout ?? 'ignore', 'pipe'], windowsHide: true });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', keep);
  // a write into a process that has died is reported through its exit, not as an unhandled error
  child.stdin?.on('error', () => undefined);
  child.stdout?.on('error', () => undefined);
  const exited = new Promise<ToolEnd>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
      // a process that never started emits no 'close' on some platforms
      if (child.pid === undefined) resolve({ code: null, signal: null, error: err });
    });
    child.once('close', (code, sig) => resolve({ code, signal: sig, ...(spawnError ? { error: spawnError } : {}) }));
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return { stdin: child.stdin, stdout: child.stdout, exited, kill };
}

/** Gets this thread ready to start tools: its tool host starts now (where there is one), beside other work, instead of when the first tool is needed. */
export function warmTools(): void {
  warmHost(deathSignalCommand());
}

/** The name ffmpeg and ffprobe are given for a local file: `file:` and its absolute path, so no part of it reads as a protocol or option. */
export function localFileUrl(path: string): string {
  return `file:${resolve(path)}`;
}
