/**
 * A throwaway redis-server for the queue tests: its own folder, a free loopback port, append-only
 * persistence (so a restart keeps what was written), stopped and restarted at will.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../paths.js';

export interface TestRedis {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** stops the server (SIGTERM, so it flushes its append-only file) */
  stop(): Promise<void>;
  /** starts it again on the same port and folder */
  start(): Promise<void>;
}

/** Whether redis-server is installed (.ci/run installs Debian's). */
export function redisServerPath(): string {
  return process.env.FLOWEDIT_REDIS_SERVER ?? 'redis-server';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.write('PING\r\n');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Starts a redis-server with append-only persistence in a temporary folder. */
export async function startRedis(): Promise<TestRedis> {
  const dir = await tempDir('flowedit-redis-');
  const port = await freePort();
  let child: ChildProcess | null = null;
  let log = '';
  const start = async () => {
    child = spawn(redisServerPath(), ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--logfile', join(dir, 'redis.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    child.once('error', (err) => (log += String(err)));
    await waitFor(() => answers(port), `redis-server on port ${port} (${log.trim() || 'no output'})`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
    child = null;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop, start };
}
