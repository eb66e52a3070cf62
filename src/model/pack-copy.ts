/**
 * A copy of a pack folder that costs next to no disk: manifest.json and the other small files are
 * copied, files of LINK_FROM_BYTES or more (ONNX graphs, their external data) are hard links to
 * the original's, or copies where no link can be made (another file system, a file the user does
 * not own under Linux's protected_hardlinks). A hard link keeps its bytes when the original is
 * replaced or removed (a new flowedit version), so the copy stays whole and matches its manifest.
 * The copy is made in a temporary folder beside the target and renamed into place: a failed copy
 * leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { sha256File } from '../media/file-bytes.js';

/** Files this large or larger are linked, smaller ones copied. */
export const LINK_FROM_BYTES = 1 << 20;

async function filesOf(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

export interface PackCopy {
  /** files (relative to the pack) linked to the original's */
  readonly linked: readonly string[];
  /** files copied: the small ones, and large ones no link could be made for (`unlinked`) */
  readonly copied: readonly string[];
  readonly unlinked: readonly string[];
}

/** Copies the pack folder `from` to `to` (which must not exist), linking its large files. */
export async function copyPack(from: string, to: string): Promise<PackCopy> {
  await mkdir(dirname(to), { recursive: true });
  const temp = join(dirname(to), `.${basename(to)}.${randomBytes(4).toString('hex')}.tmp`);
  const linked: string[] = [];
  const copied: string[] = [];
  const unlinked: string[] = [];
  try {
    for (const rel of await filesOf(from)) {
      const [src, dst] = [join(from, rel), join(temp, rel)];
      await mkdir(dirname(dst), { recursive: true });
      const large = (await stat(src)).size >= LINK_FROM_BYTES;
      if (large && (await link(src, dst).then(() => true, () => false))) {
        linked.push(rel);
      } else {
        await copyFile(src, dst);
        copied.push(rel);
        if (large) unlinked.push(rel);
      }
    }
    await rename(temp, to);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { linked, copied, unlinked };
}

/** Whether two files hold the same bytes (one file under two names, or equal contents). */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b).catch(() => null)]);
  if (!sb || sa.size !== sb.size) return false;
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  return (await sha256File(a)) === (await sha256File(b));
}

/** The large files (the weights) of pack `from` that pack `to` lacks or holds other bytes for. */
export async function differingWeights(from: string, to: string): Promise<string[]> {
  const differ: string[] = [];
  for (const rel of await filesOf(from)) {
    if ((await stat(join(from, rel))).size < LINK_FROM_BYTES) continue;
    if (!(await sameBytes(join(from, rel), join(to, rel)))) differ.push(rel);
  }
  return differ;
}
