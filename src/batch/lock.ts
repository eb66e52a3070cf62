/**
 * One batch at a time per output folder: `.flowedit-batch.lock` holds the running process's id.
 * A lock whose process is gone (killed, crashed) is taken over; a live one is refused.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_NAME = '.flowedit-batch.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Moves a stale lock out of the way. Renaming it to a unique name is atomic: when several runs
 * find the same stale lock, exactly one rename succeeds, so no run removes a lock another has
 * just taken.
 */
async function clearStale(path: string): Promise<void> {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another run cleared it first
    throw err;
  }
  await rm(aside, { force: true });
}

/** Takes the folder's lock; resolves to its release. */
export async function lockOutDir(outDir: string): Promise<() => Promise<void>> {
  const path = join(outDir, LOCK_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`Cannot lock ${outDir}: ${(err as Error).message}`);
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
        throw new Error(`Another flowedit batch (process ${pid}) is writing to ${outDir}; wait for it, or use another --out`);
      }
      await clearStale(path); // left by a run that died
    }
  }
  throw new Error(`Cannot lock ${outDir}: another batch keeps taking the lock; remove ${join(outDir, LOCK_NAME)} if no batch is running`);
}
