/**
 * Starting ffmpeg and ffprobe without forking flowedit's own process, on Linux.
 *
 * Node starts a child with fork() then exec(). The fork marks every page this process has written
 * copy-on-write, so after each child starts, the first write to each page faults again: the next
 * VAE call of a clip job took 0.40–0.54 s instead of 0.12–0.16 s (40,000 faults), its decoder
 * 0.74–1.0 s instead of 0.33–0.39 s, and the fork itself holds the process for as long as copying
 * its page tables takes (37–57 ms at 0.9 GB). Every job after a worker's first paid this for the
 * ffmpeg runs of the job before it (docs/lab/cpu-speed.md).
 *
 * So each thread that starts tools starts one small process first, the tool host
 * (tool-host-child.ts), and asks it to start them. The host's own forks are cheap and touch none
 * of this process's memory. A tool's stdin and stdout are Unix sockets (in Linux's abstract
 * namespace, nothing on disk) that this thread listens on and the host hands to the tool, so its
 * data flows between the tool and this thread directly. The host dies with the thread that
 * started it (its IPC channel closes, and with `setpriv` it is sent SIGKILL), and kills its tools
 * when it goes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';

/** How a tool ended. */
export interface ToolEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/** A started tool: its stdin and stdout where piped (sockets when it runs through the host), its end. */
export interface HostedTool {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  /** settles once the tool has exited and its stdout has closed (never rejects) */
  readonly exited: Promise<ToolEnd>;
  /** kills it (SIGKILL) if it still runs */
  kill(): void;
}

type HostMessage = { id: number; started?: true; stderr?: string; exit?: { code: number | null; signal: NodeJS.Signals | null }; error?: string };

interface Pending {
  started: (ok: boolean, error?: string) => void;
  stderr: (text: string) => void;
  ended: (end: ToolEnd) => void;
}

interface Host {
  readonly child: ChildProcess;
  readonly pending: Map<number, Pending>;
  /** settles true once the host runs (its first message), false if it could not start */
  readonly ready: Promise<boolean>;
}

let host: Host | null = null;
/** set when a host could not start: this thread then starts its tools directly */
let hostFailed = false;
let nextId = 1;
let socketCount = 0;

/** Whether tools are started through the host here: on Linux (elsewhere Node does not fork to start a child, or sockets are not abstract). */
export function hostsTools(): boolean {
  return process.platform === 'linux';
}

function hold(h: Host, on: boolean): void {
  // the host keeps the thread alive only while a tool it started runs
  if (on) {
    h.child.ref();
    (h.child.channel as { ref?: () => void } | undefined)?.ref?.();
  } else {
    h.child.unref();
    (h.child.channel as { unref?: () => void } | undefined)?.unref?.();
  }
}

function startHost(prefix: readonly string[]): Host {
  const script = fileURLToPath(new URL('./tool-host-child.js', import.meta.url));
  const [command, ...args] = [...prefix, process.execPath, script];
  // the caller's NODE_OPTIONS (an inspector port, preloaded modules) are not the host's
  const env = { ...process.env, NODE_OPTIONS: '' };
  const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json', env, windowsHide: true });
  const pending = new Map<number, Pending>();
  let announce: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (announce = resolve));
  const h: Host = { child, pending, ready };
  let running = false;
  let ended = false;
  const gone = (why: string) => {
    if (ended) return;
    ended = true;
    if (!running) hostFailed = true;
    announce(false);
    if (host === h) host = null;
    for (const [id, p] of pending) {
      pending.delete(id);
      p.started(false, why);
      p.ended({ code: null, signal: 'SIGKILL', error: new Error(why) });
    }
  };
  child.on('message', (m: HostMessage | { hello: true }) => {
    if ('hello' in m) {
      running = true;
      return announce(true);
    }
    const p = pending.get(m.id);
    if (!p) return;
    if (m.started) p.started(true);
    if (m.stderr !== undefined) p.stderr(m.stderr);
    if (m.exit || m.error !== undefined) {
      pending.delete(m.id);
      if (pending.size === 0) hold(h, false);
      p.started(false, m.error);
      p.ended({ code: m.exit?.code ?? null, signal: m.exit?.signal ?? null, ...(m.error !== undefined ? { error: new Error(m.error) } : {}) });
    }
  });
  // also a message sent as the host went: every error is taken, the first one says why
  child.on('error', (err) => gone(`the tool host failed: ${err.message}`));
  child.once('exit', (code, signal) => gone(`the tool host ended (${String(code ?? signal)})`));
  hold(h, false);
  return h;
}

/** This thread's tool host, started on first use; null where it cannot run (the caller starts tools itself). */
async function hostFor(prefix: readonly string[]): Promise<Host | null> {
  if (!host) host = startHost(prefix);
  const h = host;
  hold(h, true);
  const ok = await h.ready;
  if (h.pending.size === 0) hold(h, false);
  return ok ? h : null;
}

/** Starts this thread's tool host now, where there is one, so that the first tool need not wait for it. */
export function warmHost(prefix: readonly string[]): void {
  if (hostsTools() && !hostFailed) void hostFor(prefix);
}

/** A connection a tool reads or writes, and when it has closed (listened for from the moment it was accepted). */
interface Accepted {
  readonly socket: Socket;
  readonly closed: Promise<void>;
}

/** A server on a fresh abstract socket that takes one connection. */
function listenOnce(): Promise<{ path: string; server: Server; accepted: Promise<Accepted> }> {
  const path = `\0flowedit-tools-${process.pid}-${threadId}-${++socketCount}`;
  const server = createServer({ allowHalfOpen: false });
  const accepted = new Promise<Accepted>((resolve) =>
    server.once('connection', (socket) => {
      server.close();
      resolve({ socket, closed: new Promise((done) => socket.once('close', () => done())) });
    }),
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve({ path, server, accepted });
    });
  });
}

/**
 * Starts `argv` through this thread's tool host, with stdin and stdout piped as asked; null when
 * the host cannot run here (then the caller starts the tool itself). Rejects only when the host
 * runs but the tool could not be started.
 */
export async function startHosted(
  argv: readonly string[],
  prefix: readonly string[],
  io: { readonly stdin: boolean; readonly stdout: boolean; readonly stderr: (text: string) => void },
): Promise<HostedTool | null> {
  if (!hostsTools() || hostFailed) return null;
  const h = await hostFor(prefix);
  if (!h || !h.child.connected) return null;
  const id = nextId++;
  const inServer = io.stdin ? await listenOnce() : null;
  const outServer = io.stdout ? await listenOnce() : null;
  const closeServers = () => {
    inServer?.server.close();
    outServer?.server.close();
  };
  let ended: (end: ToolEnd) => void = () => undefined;
  const processEnd = new Promise<ToolEnd>((resolve) => (ended = resolve));
  const started = new Promise<void>((resolve, reject) => {
    h.pending.set(id, {
      started: (ok, error) => (ok ? resolve() : reject(new Error(error ?? 'the tool did not start'))),
      stderr: io.stderr,
      ended: (end) => ended(end),
    });
  });
  hold(h, true);
  h.child.send({ id, argv, ...(inServer ? { stdin: inServer.path } : {}), ...(outServer ? { stdout: outServer.path } : {}) });
  try {
    await started;
  } catch (err) {
    closeServers();
    throw err;
  }
  const [input, output] = await Promise.all([inServer?.accepted ?? null, outServer?.accepted ?? null]);
  const stdin = input?.socket ?? null;
  const stdout = output?.socket ?? null;
  // a write into a tool that has died is reported through its exit, not as an unhandled error
  stdin?.on('error', () => undefined);
  stdout?.on('error', () => undefined);
  const outClosed = output?.closed ?? Promise.resolve();
  let done = false;
  // output nobody reads is drained once the tool has ended, so that its socket closes
  void processEnd.then(() => {
    if (stdout && stdout.readableFlowing === null) stdout.resume();
  });
  const exited = Promise.all([processEnd, outClosed]).then(([end]) => {
    done = true;
    stdin?.destroy();
    return end;
  });
  return {
    stdin,
    stdout,
    exited,
    kill() {
      if (done || !h.child.connected) return;
      h.child.send({ id, kill: true });
      // its output will not be read: the socket closes with the tool
      stdout?.resume();
    },
  };
}
