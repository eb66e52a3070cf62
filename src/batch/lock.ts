/**
 * One batch at a time per output folder: `.flowedit-batch.lock` holds the running process's id.
 * A lock whose process is gone (killed, crashed) is taken over; a live one is refused.
 *
 * Taking over a stale lock is the racy part: several runs may find the same dead lock at once.
 * They serialise on a second file, `.flowedit-batch.lock.takeover`, created exclusively; only its
 * holder may replace the lock, and it does so by renaming a file with its own id over the lock
 * (so the lock never disappears for a moment). The others wait for the takeover to finish and then
 * see a live lock.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_NAME = '.flowedit-batch.lock';
const TAKEOVER_SUFFIX = '.takeover';
const TAKEOVER_WAIT_MS = 5_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** The id written in a lock file; undefined when the file is gone or unreadable. */
async function holder(path: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  return Number.isInteger(pid) ? pid : undefined;
}

/** A uniquely named file beside `path` holding this process's id. */
async function ownIdFile(path: string): Promise<string> {
  const mine = `${path}.${randomBytes(6).toString('hex')}.new`;
  await writeFile(mine, `${process.pid}\n`);
  return mine;
}

/**
 * Creates `path` holding this process's id; false when it already exists. The file appears
 * whole (a hard link of a finished file), so no other run ever reads it empty.
 */
async function createExclusive(path: string): Promise<boolean> {
  const mine = await ownIdFile(path);
  try {
    await link(mine, path);
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(mine, { force: true });
  }
}

type Takeover = 'taken' | 'retry';

/** Replaces a stale lock with ours while holding the takeover file. */
async function takeOver(path: string, stalePid: number | undefined): Promise<Takeover> {
  const guard = path + TAKEOVER_SUFFIX;
  if (!(await createExclusive(guard))) return 'retry';
  try {
    const now = await holder(path);
    if (now !== stalePid) return 'retry'; // the lock changed hands (or went away) meanwhile
    await rename(await ownIdFile(path), path); // atomic replace: the lock is never absent
    return 'taken';
  } finally {
    await rm(guard, { force: true });
  }
}

/** Takes the folder's lock; resolves to its release. */
export async function lockOutDir(outDir: string): Promise<() => Promise<void>> {
  const path = join(outDir, LOCK_NAME);
  const release = () => rm(path, { force: true });
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    try {
      if (await createExclusive(path)) return release;
    } catch (err) {
      throw new Error(`Cannot lock ${outDir}: ${(err as Error).message}`);
    }
    const pid = await holder(path);
    if (pid !== undefined && pid !== process.pid && alive(pid)) {
      throw new Error(`Another flowedit batch (process ${pid}) is writing to ${outDir}; wait for it, or use another --out`);
    }
    // left by a run that died (or being written this instant): take it over
    if ((await takeOver(path, pid)) === 'taken') return release;
    if (Date.now() > deadline) {
      const guard = path + TAKEOVER_SUFFIX;
      throw new Error(
        `Cannot lock ${outDir}: a takeover of its stale lock did not finish; if no batch is running, remove ${path} and ${guard}`,
      );
    }
    await sleep(20);
  }
}
