/**
 * Safe output writing: files appear complete or not at all, and unwritable destinations are
 * reported before any long-running work starts.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A short, human-readable reason for a failed write into `dir`. */
function describe(err: unknown, dir: string): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return `directory ${dir} does not exist`;
    case 'ENOTDIR':
      return `${dir} is not a directory`;
    case 'EACCES':
    case 'EPERM':
      return `directory ${dir} is not writable`;
    case 'EISDIR':
      return 'it is a directory';
    case 'EROFS':
      return `directory ${dir} is on a read-only file system`;
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

function writeError(path: string, reason: string, cause?: unknown): Error {
  return new Error(`Cannot write ${path}: ${reason}`, cause === undefined ? undefined : { cause });
}

/**
 * The temporary name a write of `path` goes through: `.<name>.<pid>-<12 hex>.tmp` in the same
 * folder. The writer's process id tells a temporary file a live writer still owns from one a
 * killed writer left behind.
 */
export function tempPathFor(path: string): string {
  return join(dirname(resolve(path)), `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * A staged copy of `path`: a temporary name (tempPathFor) that keeps the extension, for a file
 * written whole (by any writer that picks its format from the name) and renamed to `path` later,
 * once what describes it is safely written.
 */
export function stagedPathFor(path: string): string {
  return `${tempPathFor(path)}${extname(path)}`;
}

/** Whether a process with this id is running (one of another user's counts as running). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/**
 * Removes the temporary files of writes of `path` (see tempPathFor) that no other running
 * process owns: this process's own, and those whose writer is gone (killed, or crashed). A
 * temporary file of a live concurrent writer is kept, and no other file is touched. Resolves to
 * how many were removed.
 */
export async function removeTempFiles(path: string): Promise<number> {
  const dir = dirname(resolve(path));
  const prefix = `.${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  // a commit lock (withCommitLock) whose holder was killed inside it
  if (names.includes(`${prefix}commit`) && (await commitLockStale(join(dir, `${prefix}commit`)))) {
    await rm(join(dir, `${prefix}commit`), { force: true });
    removed += 1;
  }
  for (const name of names) {
    // a staged copy's own temporary is named after it: one more dot in front
    const nested = name.startsWith(`.${prefix}`);
    if (!name.startsWith(prefix) && !nested) continue;
    const rest = name.slice(prefix.length + (nested ? 1 : 0));
    // a temporary (pid-hex.tmp), a staged copy (pid-hex.tmp.ext), or a staged copy's temporary (pid-hex.tmp.ext.pid-hex.tmp)
    const owned = (nested ? /^([1-9][0-9]*)-[0-9a-f]{12}\.tmp\.[A-Za-z0-9]+\.[1-9][0-9]*-[0-9a-f]{12}\.tmp$/ : /^([1-9][0-9]*)-[0-9a-f]{12}\.tmp(?:\.[A-Za-z0-9]+)?$/).exec(rest);
    // the earlier naming carried no process id: no writer of this version owns one
    const unowned = /^[0-9a-f]{12}\.tmp$/.test(rest);
    if (!owned && !unowned) continue;
    if (owned && Number(owned[1]) !== process.pid && processAlive(Number(owned[1]))) continue;
    await rm(join(dir, name), { force: true });
    removed += 1;
  }
  return removed;
}

/**
 * Writes `data` to `path` atomically: the bytes go to a temporary file (tempPathFor)
 * in the same directory, are flushed to disk, and the temporary file is then renamed over
 * `path`. Readers see either the old file or the complete new one. An existing file keeps
 * its permission bits. On any failure the temporary file is removed and an error
 * `Cannot write <path>: <reason>` is thrown (the original error is its `cause`).
 */
export async function writeFileAtomic(path: string, data: Buffer | Uint8Array): Promise<void> {
  const dir = dirname(resolve(path));
  const tmp = tempPathFor(path);

  // A missing target is the normal case; other problems surface when opening the temp file.
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw writeError(path, 'it is a directory');
  const mode = existing ? existing.mode & 0o7777 : undefined;

  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx');
  } catch (err) {
    throw writeError(path, describe(err, dir), err);
  }
  try {
    try {
      await handle.writeFile(data);
      if (mode !== undefined) await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(path, describe(err, dir), err);
  }
}

/**
 * Checks, before any long work, that `path` could be written: its directory must exist,
 * be a directory and be writable, and `path` itself must not be an existing directory.
 * Throws `Cannot write <path>: directory <dir> does not exist` (or `... is not writable`,
 * `... is not a directory`, `it is a directory`). Nothing is left beside `path` that
 * removeTempFiles(path) would not remove.
 */
export async function assertWritable(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  // A missing target is fine; other problems are explained by the directory checks below.
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw writeError(path, 'it is a directory');
  let dirInfo;
  try {
    dirInfo = await stat(dir);
  } catch (err) {
    throw writeError(path, describe(err, dir), err);
  }
  if (!dirInfo.isDirectory()) throw writeError(path, `${dir} is not a directory`);
  // Permission bits do not bind root, so create and remove a probe file rather than ask access().
  // It is named as a temporary of `path` (tempPathFor), so a process killed between the two
  // leaves one that removeTempFiles(path) takes away, like any other write it did not finish.
  const probe = tempPathFor(path);
  try {
    await (await open(probe, 'wx')).close();
  } catch (err) {
    throw writeError(path, describe(err, dir), err);
  }
  await rm(probe, { force: true });
}

/** How long a commit lock may stand before it is taken for a dead writer's (its holder never holds it that long). */
const COMMIT_STALE_MS = 30_000;

/** Whether a commit lock's holder is gone: a process of this machine that is not running, or a lock older than COMMIT_STALE_MS. */
async function commitLockStale(lock: string): Promise<boolean> {
  const [owner, st] = await Promise.all([readFile(lock, 'utf8').catch(() => ''), stat(lock).catch(() => undefined)]);
  if (!st) return false;
  const [pid, host] = owner.split(' ');
  const gone = host === hostname() && Number(pid) > 0 && Number(pid) !== process.pid && !processAlive(Number(pid));
  return gone || Date.now() - st.mtimeMs > COMMIT_STALE_MS;
}

/**
 * Runs `fn` while holding the commit lock of `path` (`.<name>.commit` beside it, made with
 * O_EXCL), so two writers that both made `path` (a queue that handed one job to two workers)
 * commit one after the other and the second sees the first's file. A lock left by a process
 * that is gone (same machine) or older than 30 s (another machine's) is taken over.
 */
export async function withCommitLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dirname(resolve(path)), `.${basename(path)}.commit`);
  const me = `${process.pid} ${hostname()}`;
  for (;;) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(me);
      await handle.close();
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw writeError(path, describe(err, dirname(lock)), err);
      if (await commitLockStale(lock)) await rm(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
