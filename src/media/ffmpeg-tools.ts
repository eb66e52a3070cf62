/**
 * Finding working ffmpeg and ffprobe binaries: an explicit path (`--ffmpeg`, the only one tried when given), else the
 * FLOWEDIT_FFMPEG environment variable, then PATH, then the binaries shipped inside the
 * @ffmpeg-installer/@ffprobe-installer npm packages. This is the only module that knows about
 * those packages; each candidate is checked by running it with `-version`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface FfmpegTools {
  readonly ffmpeg: string;
  readonly ffprobe: string;
}

export const FFMPEG_ENV = 'FLOWEDIT_FFMPEG';

const INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg), ' +
  `or pass --ffmpeg <path to ffmpeg> (or set ${FFMPEG_ENV}); ffprobe must sit next to it or on PATH`;

/** Runs `<bin> -version`; resolves to the first line, or null when it does not run. */
function versionOf(bin: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(bin, ['-version'], { timeout: 15_000 }, (err, stdout) => resolve(err ? null : (stdout.split('\n')[0] ?? '')));
  });
}

/** Paths of the binaries shipped in npm packages, or null when they are not installed. */
function npmBinary(pkg: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe'): string | null {
  try {
    const require = createRequire(import.meta.url);
    return (require(pkg) as { path: string }).path;
  } catch {
    return null;
  }
}

/** ffprobe candidates for a given ffmpeg: its sibling, then PATH, then npm's. */
function probeCandidates(ffmpeg: string): string[] {
  const sibling = ffmpeg.includes('/') || ffmpeg.includes('\\') ? join(dirname(ffmpeg), process.platform === 'win32' ? 'ffprobe.exe' : 'ffprobe') : null;
  const npm = npmBinary('@ffprobe-installer/ffprobe');
  return [...(sibling && existsSync(sibling) ? [sibling] : []), 'ffprobe', ...(npm ? [npm] : [])];
}

const cache = new Map<string, Promise<FfmpegTools>>();

/**
 * Finds ffmpeg and ffprobe. `explicit` (from --ffmpeg), when given, is the only one tried: a path
 * that does not work is an error naming it. Otherwise FLOWEDIT_FFMPEG, then PATH, then the
 * npm-shipped binaries. Throws one message saying what was tried and how to
 * install ffmpeg when none works. Results are cached per explicit path.
 */
export function findFfmpeg(explicit?: string): Promise<FfmpegTools> {
  const key = `${explicit ?? ''}\0${process.env[FFMPEG_ENV] ?? ''}`;
  let found = cache.get(key);
  if (!found) {
    found = locate(explicit);
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

async function locate(explicit: string | undefined): Promise<FfmpegTools> {
  if (explicit) {
    // a path the user named is used or refused, never silently replaced by another ffmpeg
    if (!(await versionOf(explicit))) throw new Error(`--ffmpeg ${explicit} does not run as ffmpeg: give the path of a working ffmpeg binary, or leave out --ffmpeg to use the one on PATH`);
    for (const ffprobe of probeCandidates(explicit)) {
      if (await versionOf(ffprobe)) return { ffmpeg: explicit, ffprobe };
    }
    throw new Error(`--ffmpeg ${explicit} has no working ffprobe beside it or on PATH: put ffprobe next to it, or leave out --ffmpeg`);
  }
  const env = process.env[FFMPEG_ENV];
  const npm = npmBinary('@ffmpeg-installer/ffmpeg');
  const candidates = [...(env ? [env] : []), 'ffmpeg', ...(npm ? [npm] : [])];
  const tried: string[] = [];
  for (const ffmpeg of candidates) {
    if (!(await versionOf(ffmpeg))) {
      tried.push(ffmpeg);
      continue;
    }
    for (const ffprobe of probeCandidates(ffmpeg)) {
      if (await versionOf(ffprobe)) return { ffmpeg, ffprobe };
    }
    tried.push(`${ffmpeg} (no working ffprobe beside it or on PATH)`);
  }
  throw new Error(`Video needs ffmpeg and ffprobe, and none works here (tried: ${tried.join(', ')}): ${INSTALL_HINT}`);
}
