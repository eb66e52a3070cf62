/**
 * ffmpeg and ffprobe binaries that have run `-version` here before, remembered across runs so that
 * a command need not start each of them again only to see that it runs (0.1 s of CPU apiece on a
 * small machine: the program loading its libraries). The record is one small file in the user's
 * cache folder, an entry per binary, each valid while the file it names is unchanged (its size,
 * modification and change times, and inode). Only a binary that ran is remembered; one that failed
 * is checked every time. Reading or writing the record never fails anything: without it, every
 * binary is checked as before. Not on Windows, where a name on PATH takes an extension.
 */
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';

const FORMAT = 'flowedit.checked-tools';
const FILE = 'checked-tools.json';

/** A file's identity: size, modification time, change time, inode. */
type Stamp = readonly [number, number, number, number];

interface Entry {
  readonly stamp: Stamp;
  /** the first line of its -version output */
  readonly version: string;
}

/**
 * flowedit's cache folder: $XDG_CACHE_HOME/flowedit (an absolute one), else ~/.cache/flowedit;
 * on macOS ~/Library/Caches/flowedit.
 */
export function cacheFolder(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'flowedit');
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'flowedit');
}

/** The file `bin` names as a child process would run it: a path as given, else the first executable file of that name on PATH. */
function located(bin: string): string | null {
  const candidates = bin.includes('/') ? [resolve(bin)] : (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(resolve(d), bin));
  for (const path of candidates) {
    try {
      if (!statSync(path).isFile()) continue;
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not there, or not executable: the next one
    }
  }
  return null;
}

function stampOf(path: string): Stamp | null {
  try {
    const st = statSync(path);
    return [st.size, st.mtimeMs, st.ctimeMs, st.ino];
  } catch {
    return null;
  }
}

function readRecord(): Record<string, Entry> {
  try {
    const data = JSON.parse(readFileSync(join(cacheFolder(), FILE), 'utf8')) as { format?: unknown; tools?: unknown };
    if (data.format !== FORMAT || typeof data.tools !== 'object' || data.tools === null) return {};
    return data.tools as Record<string, Entry>;
  } catch {
    return {};
  }
}

const sameStamp = (a: unknown, b: Stamp): boolean => Array.isArray(a) && a.length === b.length && b.every((v, i) => a[i] === v);

/** The version line `bin` printed when it last ran here, if the file it names is unchanged since; else null. */
export function rememberedVersion(bin: string): string | null {
  if (process.platform === 'win32') return null;
  const path = located(bin);
  const stamp = path ? stampOf(path) : null;
  if (!path || !stamp) return null;
  const entry = readRecord()[path];
  return entry && typeof entry.version === 'string' && sameStamp(entry.stamp, stamp) ? entry.version : null;
}

/** Remembers that `bin` ran `-version` and printed `version` first (nothing happens when the record cannot be written). */
export function rememberVersion(bin: string, version: string): void {
  if (process.platform === 'win32') return;
  const path = located(bin);
  const stamp = path ? stampOf(path) : null;
  if (!path || !stamp) return;
  const file = join(cacheFolder(), FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    const tools = { ...readRecord(), [path]: { stamp, version } };
    // written whole and renamed: a reader sees the old record or the new one
    writeFileSync(tmp, `${JSON.stringify({ format: FORMAT, version: 1, tools }, null, 2)}\n`);
    renameSync(tmp, file);
  } catch {
    // a read-only home or a full disk: the binary is checked again next time
    rmSync(tmp, { force: true });
  }
}
