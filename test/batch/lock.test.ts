/** The output folder's batch lock: a dead run's lock is taken over by exactly one contender. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from '../paths.js';

const LOCK = join(ROOT, 'dist/src/batch/lock.js');

/** A process that tries the lock, says "locked" or "refused", and holds a lock it got until its stdin closes. */
function contender(dir: string): { said: Promise<string>; release: () => void; exited: Promise<void> } {
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
  return { said, release: () => child.stdin.end(), exited };
}

test('a stale lock is taken over by exactly one of several batches starting together', { timeout: 60_000 }, async () => {
  const dir = await tempDir('flowedit-lock-');
  await writeFile(join(dir, '.flowedit-batch.lock'), '999999999\n'); // no such process
  const runs = Array.from({ length: 6 }, () => contender(dir));
  const said = await Promise.all(runs.map((r) => r.said));
  assert.equal(said.filter((s) => s === 'locked').length, 1, said.join(', '));
  for (const r of runs) r.release();
  await Promise.all(runs.map((r) => r.exited));
  assert.deepEqual(await readdir(dir), [], 'the lock is released and no stale copy is left');
});
