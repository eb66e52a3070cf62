/**
 * One batch at a time per output folder. `.flowedit-batch.lock` names the batch that holds the
 * folder: its process id, when that process started (Linux: field 22 of /proc/<pid>/stat), the
 * boot it started in, and a random token; the holder touches the file every few seconds (its
 * heartbeat). The lock belongs to a live batch only while all of these hold:
 *   - a process with that id runs, and it is the one that wrote the lock: same boot, same start
 *     time (a process id that was reused names a process that started later);
 *   - the heartbeat is recent (this also covers systems without /proc, where only the id is known).
 * Anything else (the process died or its id was reused, the heartbeat stopped, the file is not
 * one flowedit writes) is a stale lock, and it is taken over.
 *
 * Taking over a stale lock is the racy part: several runs may find the same dead lock at once.
 * They serialise on a second file, `.flowedit-batch.lock.takeover`, created exclusively; only its
 * holder may replace the lock, and it does so by renaming a file of its own over the lock (so the
 * lock never disappears for a moment). The others wait for the takeover to finish and then see a
 * live lock.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { link, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../media/atomic-file.js';
import { shardSuffix, type Shard } from './shard.js';

export const LOCK_NAME = '.flowedit-batch.lock';
const TAKEOVER_SUFFIX = '.takeover';
const TAKEOVER_WAIT_MS = 5_000;
/** how often the holder touches the lock */
const HEARTBEAT_MS = 5_000;
/** a lock whose heartbeat is older than this is stale */
const STALE_MS = 30_000;

/** Who holds a lock, as written in the file (one JSON line). */
export interface LockOwner {
  readonly format: 'flowedit.batch-lock';
  readonly pid: number;
  /** the process's start time in clock ticks after boot (Linux); null where unknown */
  readonly start: string | null;
  /** the boot the process started in (Linux); null where unknown */
  readonly boot: string | null;
  readonly token: string;
}

export interface LockOptions {
  /** how often the holder touches the lock, in ms (default 5000) */
  readonly heartbeatMs?: number;
  /** a heartbeat older than this marks a stale lock, in ms (default 30000) */
  readonly staleMs?: number;
  /** called once when another run took the lock over (this run's heartbeat had stopped) */
  readonly onLost?: (message: string) => void;
  /** a shard's lock (one per shard, beside the others'): two runs of one shard exclude each other */
  readonly shard?: Shard;
}

export interface BatchLock {
  readonly path: string;
  /** Stops the heartbeat and removes the lock if it is still this run's. */
  release(): Promise<void>;
  /** The same, synchronously: for a process about to exit. */
  releaseSync(): void;
}

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Field 22 of /proc/<pid>/stat (start time after boot, in clock ticks); null where unreadable. */
async function startTime(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (text === null) return null;
  // the command name (field 2) is in parentheses and may hold spaces: count from its end
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null; // fields[0] is field 3
}

async function bootId(): Promise<string | null> {
  const id = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => null);
  return id === null ? null : id.trim();
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (o.format !== 'flowedit.batch-lock' || !Number.isInteger(o.pid) || (o.pid as number) <= 0 || typeof o.token !== 'string') return undefined;
    return { format: o.format, pid: o.pid!, start: typeof o.start === 'string' ? o.start : null, boot: typeof o.boot === 'string' ? o.boot : null, token: o.token };
  } catch {
    return undefined;
  }
}

/** The lock file's text and age; undefined when it is gone. */
async function readLock(path: string): Promise<{ text: string; ageMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { text, ageMs: Date.now() - st.mtimeMs };
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Why the lock in `text` (last touched `ageMs` ago) does not belong to a live batch, or null when it does. */
async function staleReason(text: string, ageMs: number, staleMs = STALE_MS): Promise<string | null> {
  const owner = parseOwner(text);
  if (!owner) return 'the lock file is not one flowedit writes';
  if (!processAlive(owner.pid)) return `process ${owner.pid} is gone`;
  const [boot, start] = await Promise.all([bootId(), startTime(owner.pid)]);
  if (owner.boot !== null && boot !== null && owner.boot !== boot) return 'the lock is from before a restart';
  if (owner.start !== null && start !== null && owner.start !== start) return `process id ${owner.pid} now belongs to another process`;
  if (ageMs > staleMs) return `its heartbeat stopped ${Math.round(ageMs / 1000)} s ago`;
  return null;
}

async function ownerText(): Promise<{ text: string; token: string }> {
  const token = randomBytes(12).toString('hex');
  const owner: LockOwner = { format: 'flowedit.batch-lock', pid: process.pid, start: await startTime(process.pid), boot: await bootId(), token };
  return { text: `${JSON.stringify(owner)}\n`, token };
}

/** A uniquely named file beside `path` holding `text`. */
async function ownFile(path: string, text: string): Promise<string> {
  const mine = `${path}.${randomBytes(6).toString('hex')}.new`;
  await writeFile(mine, text);
  return mine;
}

/**
 * Creates `path` holding `text`; false when it already exists. The file appears whole (a hard
 * link of a finished file), so no other run ever reads it empty.
 */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const mine = await ownFile(path, text);
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

/** Replaces the stale lock whose text is `staleText` with ours, while holding the takeover file. */
async function takeOver(path: string, staleText: string, text: string): Promise<Takeover> {
  const guard = path + TAKEOVER_SUFFIX;
  if (!(await createExclusive(guard, text))) return 'retry';
  try {
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now !== staleText) return 'retry'; // the lock changed hands (or went away) meanwhile
    await rename(await ownFile(path, text), path); // atomic replace: the lock is never absent
    return 'taken';
  } finally {
    await rm(guard, { force: true });
  }
}

/** The held lock: a heartbeat that also notices a takeover, and a release that removes only our own lock. */
function held(path: string, token: string, o: LockOptions): BatchLock {
  const ours = (text: string | null | undefined) => text != null && parseOwner(text)?.token === token;
  let lost = false;
  const beat = async () => {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (!ours(text)) {
      if (lost) return;
      lost = true;
      clearInterval(timer);
      o.onLost?.(`another batch took over ${path}`);
      return;
    }
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
  };
  const timer = setInterval(() => void beat(), o.heartbeatMs ?? HEARTBEAT_MS);
  timer.unref();
  return {
    path,
    async release() {
      clearInterval(timer);
      if (ours(await readFile(path, 'utf8').catch(() => null))) await rm(path, { force: true });
    },
    releaseSync() {
      clearInterval(timer);
      let text: string | null = null;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return;
      }
      if (ours(text)) rmSync(path, { force: true });
    },
  };
}

/** Takes the output folder's lock (the folder must exist); refuses while a live batch holds it. */
export async function lockOutDir(outDir: string, o: LockOptions = {}): Promise<BatchLock> {
  const path = join(outDir, LOCK_NAME.replace('.lock', `${shardSuffix(o.shard)}.lock`));
  const { text, token } = await ownerText();
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    try {
      if (await createExclusive(path, text)) return held(path, token, o);
    } catch (err) {
      throw new Error(`Cannot lock ${outDir}: ${(err as Error).message}`);
    }
    const found = await readLock(path);
    if (found !== undefined) {
      if ((await staleReason(found.text, found.ageMs, o.staleMs)) === null) {
        const pid = parseOwner(found.text)!.pid;
        throw new Error(`Another flowedit batch (process ${pid}) is writing to ${outDir}; wait for it, or use another --out`);
      }
      // left by a run that died: take it over
      if ((await takeOver(path, found.text, text)) === 'taken') return held(path, token, o);
    }
    if (Date.now() > deadline) {
      const guard = path + TAKEOVER_SUFFIX;
      throw new Error(
        `Cannot lock ${outDir}: a takeover of its stale lock did not finish; if no batch is running, remove ${path} and ${guard}`,
      );
    }
    await sleep(20);
  }
}
