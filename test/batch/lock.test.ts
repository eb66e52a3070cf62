/** The output folder's batch lock: a dead run's lock is taken over by exactly one contender. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { lockOutDir } from '../../src/batch/lock.js';
import { ROOT, tempDir } from '../paths.js';

const LOCK = join(ROOT, 'dist/src/batch/lock.js');

/** A process that tries the lock, says "locked" or "refused", and holds a lock it got until its stdin closes. */
function contender(dir: string, options: object = {}): { said: Promise<string>; release: () => void; kill: () => void; exited: Promise<void>; pid: number } {
  const script = `import { lockOutDir } from ${JSON.stringify(LOCK)};
lockOutDir(${JSON.stringify(dir)}, ${JSON.stringify(options)}).then(
  (lock) => { process.stdout.write('locked\\n'); process.stdin.on('end', () => void lock.release()); process.stdin.resume(); },
  () => process.stdout.write('refused\\n'));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const said = new Promise<string>((resolve) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    void exited.then(() => resolve(out.trim() || 'exited'));
  });
  return { said, release: () => child.stdin.end(), kill: () => child.kill('SIGKILL'), exited, pid: child.pid! };
}

/** Starts `n` contenders on `dir` at once; every child is ended and reaped whatever happens. */
async function contest(dir: string, n: number, check: (said: string[]) => Promise<void>): Promise<void> {
  const runs = Array.from({ length: n }, () => contender(dir));
  try {
    await check(await Promise.all(runs.map((r) => r.said)));
  } finally {
    for (const r of runs) r.release();
    const reaped = Promise.all(runs.map((r) => r.exited));
    const late = setTimeout(() => runs.forEach((r) => r.kill()), 10_000);
    await reaped;
    clearTimeout(late);
  }
}

test('a stale lock is taken over by exactly one of several batches starting together', { timeout: 120_000 }, async () => {
  for (let round = 0; round < 5; round++) {
    const dir = await tempDir('flowedit-lock-');
    await writeFile(join(dir, '.flowedit-batch.lock'), '999999999\n'); // no such process
    await contest(dir, 6, async (said) => {
      assert.equal(said.filter((s) => s === 'locked').length, 1, `round ${round}: ${said.join(', ')}`);
      assert.equal(said.filter((s) => s === 'refused').length, 5, `round ${round}: ${said.join(', ')}`);
    });
    assert.deepEqual(await readdir(dir), [], 'the lock is released and no stale copy is left');
  }
});

test('a free folder is locked by exactly one of several batches starting together', { timeout: 60_000 }, async () => {
  const dir = await tempDir('flowedit-lock-');
  await contest(dir, 6, async (said) => {
    assert.equal(said.filter((s) => s === 'locked').length, 1, said.join(', '));
  });
  assert.deepEqual(await readdir(dir), []);
});

/** A live process that is not a batch: `sleep`, ended when the test is done. */
async function withSleeper(body: (pid: number) => Promise<void>): Promise<void> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await body(child.pid!);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** Field 22 of /proc/<pid>/stat: when the process started. */
async function startOf(pid: number): Promise<string> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19]!;
}

const bootId = async () => (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
const lockText = (o: object) => `${JSON.stringify({ format: 'flowedit.batch-lock', token: 'feedface', ...o })}\n`;

test('a lock naming a live process that is not the batch that wrote it does not block the folder', { timeout: 60_000 }, async () => {
  await withSleeper(async (pid) => {
    const cases: Record<string, string> = {
      // an older flowedit's lock: only an id, here of a live process that is no batch
      'bare id of a live process': `${pid}\n`,
      'bare id of this test runner': `${process.pid}\n`,
      // the batch died and its id now belongs to a process that started later
      'reused id': lockText({ pid, start: String(Number(await startOf(pid)) - 1), boot: await bootId() }),
      // the process is the one named, but nothing has touched the lock for a minute: no batch runs
      'stopped heartbeat': lockText({ pid, start: await startOf(pid), boot: await bootId() }),
      'another boot': lockText({ pid, start: await startOf(pid), boot: 'not-this-boot' }),
    };
    for (const [what, text] of Object.entries(cases)) {
      const dir = await tempDir('flowedit-lock-');
      const path = join(dir, '.flowedit-batch.lock');
      await writeFile(path, text);
      if (what === 'stopped heartbeat') await utimes(path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      const lock = await lockOutDir(dir).catch((err: Error) => assert.fail(`${what}: ${err.message}`));
      assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid, `${what}: the lock is ours now`);
      await lock.release();
      assert.deepEqual(await readdir(dir), [], `${what}: released`);
    }
  });
});

test('a live batch keeps its folder: its heartbeat holds the lock past the stale time, and a release removes only its own lock', { timeout: 60_000 }, async () => {
  const dir = await tempDir('flowedit-lock-');
  const holder = contender(dir, { heartbeatMs: 100 });
  try {
    assert.equal(await holder.said, 'locked');
    await assert.rejects(lockOutDir(dir, { staleMs: 500 }), new RegExp(`Another flowedit batch \\(process ${holder.pid}\\) is writing to`));
    await new Promise((r) => setTimeout(r, 1_500)); // three stale times: only the heartbeat keeps it live
    await assert.rejects(lockOutDir(dir, { staleMs: 500 }), /Another flowedit batch/);
  } finally {
    holder.release();
    await holder.exited;
  }
  assert.deepEqual(await readdir(dir), []);
  // a run whose lock was taken over does not remove the new holder's lock
  const first = await lockOutDir(dir);
  const path = join(dir, '.flowedit-batch.lock');
  await writeFile(path, lockText({ pid: process.pid, start: null, boot: null, token: 'someone-else' }));
  await first.release();
  assert.equal(JSON.parse(await readFile(path, 'utf8')).token, 'someone-else', 'another holder\'s lock is left alone');
});

test('a run that lost its lock is told so by its heartbeat', { timeout: 30_000 }, async () => {
  const dir = await tempDir('flowedit-lock-');
  let lock: Awaited<ReturnType<typeof lockOutDir>> | undefined;
  const told = new Promise<string>((resolve) => {
    void lockOutDir(dir, { heartbeatMs: 50, onLost: resolve }).then(async (l) => {
      lock = l;
      await writeFile(join(dir, '.flowedit-batch.lock'), lockText({ pid: process.pid, start: null, boot: null, token: 'someone-else' }));
    });
  });
  const awake = setInterval(() => undefined, 1_000); // the heartbeat does not keep a process alive by itself
  try {
    assert.match(await told, /another batch took over .*\.flowedit-batch\.lock/);
  } finally {
    clearInterval(awake);
  }
  await lock!.release();
});
