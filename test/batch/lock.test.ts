/** The output folder's batch lock: a dead run's lock is taken over by exactly one contender. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from '../paths.js';

const LOCK = join(ROOT, 'dist/src/batch/lock.js');

/** A process that tries the lock, says "locked" or "refused", and holds a lock it got until its stdin closes. */
function contender(dir: string): { said: Promise<string>; release: () => void; kill: () => void; exited: Promise<void> } {
  const script = `import { lockOutDir } from ${JSON.stringify(LOCK)};
lockOutDir(${JSON.stringify(dir)}).then(
  (unlock) => { process.stdout.write('locked\\n'); process.stdin.on('end', () => void unlock()); process.stdin.resume(); },
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
  return { said, release: () => child.stdin.end(), kill: () => child.kill('SIGKILL'), exited };
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
