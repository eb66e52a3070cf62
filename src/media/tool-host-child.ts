/**
 * The tool host: a small process that starts ffmpeg and ffprobe for the flowedit thread that
 * started it (tool-host.ts says why). It runs no flowedit code besides this file.
 *
 * Requests come over the IPC channel: `{ id, argv, stdin?, stdout? }`, where stdin and stdout name
 * Unix sockets the parent listens on. The host connects to each, starts argv[0] with the connected
 * sockets as the child's stdin and stdout (the child reads and writes the parent's data directly;
 * nothing passes through here), closes its own ends, and answers `{ id, started: true }`. Then it
 * forwards the child's stderr (`{ id, stderr }`) and how it ended (`{ id, exit: { code, signal } }`,
 * or `{ id, error }` when it could not start). `{ id, kill: true }` kills the child (SIGKILL).
 * When the channel closes (the parent's thread ended or the process died) every child is killed
 * and the host exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

interface Request {
  readonly id: number;
  readonly argv?: readonly string[];
  readonly stdin?: string;
  readonly stdout?: string;
  readonly kill?: boolean;
}

const children = new Map<number, ChildProcess>();
/** requests killed before their child started */
const killed = new Set<number>();

function send(message: object): void {
  if (process.connected) process.send!(message);
}

/** A connected socket to the parent's listening `path`, not reading (the child it goes to reads). */
function connected(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.pause();
      resolve(socket);
    });
  });
}

async function start(req: Request): Promise<void> {
  const argv = req.argv ?? [];
  let sockets: Socket[] = [];
  try {
    const stdin = req.stdin ? await connected(req.stdin) : undefined;
    if (stdin) sockets.push(stdin);
    const stdout = req.stdout ? await connected(req.stdout) : undefined;
    if (stdout) sockets.push(stdout);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin ?? 'ignore', stdout ?? 'ignore', 'pipe'], windowsHide: true });
    children.set(req.id, child);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => send({ id: req.id, stderr: text }));
    let error: string | undefined;
    let ended = false;
    const end = (message: object) => {
      if (ended) return;
      ended = true;
      children.delete(req.id);
      killed.delete(req.id);
      send({ id: req.id, ...message });
    };
    // a child that never started may emit no 'close'
    child.once('error', (err) => {
      error = err.message;
      if (child.pid === undefined) end({ error });
    });
    child.once('close', (code, signal) => end({ exit: { code, signal }, ...(error ? { error } : {}) }));
    // the child holds its own copies now: closing ours leaves the parent's ends talking to it alone
    for (const s of sockets) s.destroy();
    sockets = [];
    if (child.pid !== undefined) send({ id: req.id, started: true });
    if (killed.has(req.id)) child.kill('SIGKILL');
  } catch (err) {
    for (const s of sockets) s.destroy();
    send({ id: req.id, error: (err as Error).message });
  }
}

process.on('message', (req: Request) => {
  if (req.kill) {
    const child = children.get(req.id);
    if (!child) killed.add(req.id);
    else if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return;
  }
  void start(req);
});

send({ hello: true });

process.on('disconnect', () => {
  for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  process.exit(0);
});
