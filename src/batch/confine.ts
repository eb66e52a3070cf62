/**
 * Keeping a batch inside its folders, by real path: outputs (and their sidecars, temporaries and
 * the report) inside the output folder, inputs and masks inside the manifest's folder unless the
 * manifest allows otherwise. A symbolic link on the way (a folder inside `--out` that links
 * elsewhere, an input that links outside the manifest's folder) counts where it leads.
 */
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/**
 * The real path of `path` as far as it exists: its nearest existing ancestor with every link
 * resolved, followed by the parts that do not exist yet.
 */
export async function realPathSoFar(path: string, links = 0): Promise<string> {
  const abs = resolve(path);
  try {
    return await realpath(abs);
  } catch (err) {
    if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') throw err;
  }
  // a dangling link is not "missing": where it leads is where a write would go
  if ((await lstat(abs).catch(() => null))?.isSymbolicLink()) {
    if (links >= 40) throw new Error(`too many symbolic links on the way to ${path}`);
    return realPathSoFar(resolve(dirname(abs), await readlink(abs)), links + 1);
  }
  const parent = dirname(abs);
  return parent === abs ? abs : join(await realPathSoFar(parent, links), basename(abs));
}

/** Whether `path` is `root` or lies under it (both absolute, already real). */
export function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/** The first symbolic link on the way from `root` down to `path`, for messages. */
async function firstLink(root: string, path: string): Promise<string | undefined> {
  const parts = relative(root, path).split(sep).filter((p) => p !== '');
  let at = root;
  for (const part of parts) {
    at = join(at, part);
    const st = await lstat(at).catch(() => null);
    if (!st) return undefined;
    if (st.isSymbolicLink()) return at;
  }
  return undefined;
}

/** Where a path that escapes by a link really leads, for messages: " (through the link X, to Y)". */
async function through(root: string, path: string, real: string): Promise<string> {
  const link = await firstLink(root, path);
  return link ? ` (through the symbolic link ${link}, to ${real})` : ` (it leads to ${real})`;
}

/**
 * Checks that `file` (absolute, under `outDir` as written) would really be written inside the
 * output folder, following any links on the way. Throws naming the output and the link.
 */
export async function assertOutputInside(outDir: string, file: string, name = relative(outDir, file)): Promise<void> {
  const lexical = relative(resolve(outDir), resolve(file));
  if (lexical === '' || isAbsolute(lexical) || lexical === '..' || lexical.startsWith(`..${sep}`)) {
    throw new Error(`output "${name}" would be written outside the output folder ${outDir}; use an id without ".." or a leading "/"`);
  }
  const root = await realPathSoFar(outDir);
  const real = await realPathSoFar(file);
  if (!within(root, real) || real === root) {
    throw new Error(
      `output "${name}" would be written outside the output folder ${outDir}${await through(resolve(outDir), resolve(file), real)}; ` +
        'remove the link or choose another --out',
    );
  }
}

export interface InputRule {
  /** the manifest's folder */
  readonly dir: string;
  /** inputs may lie anywhere (the manifest or the command line says so) */
  readonly allowOutside: boolean;
}

const ALLOW_HINT = 'move it into that folder, or allow inputs outside it with "allowInputsOutside: true" in the manifest or --allow-inputs-outside';

/**
 * Checks that an input or mask (`what`: "input", "mask") lies inside the manifest's folder by
 * real path; for a mask folder, every file in it too. Nothing to check when the rule allows any
 * place. A missing file passes here (its own check reports it), unless its path already leaves.
 */
export async function assertInputInside(rule: InputRule, path: string, what: string): Promise<void> {
  if (rule.allowOutside) return;
  const dir = resolve(rule.dir);
  const abs = resolve(path);
  const shown = relative(dir, abs) || '.';
  const outside = (how: string) => new Error(`${what} "${shown}" is outside the manifest's folder ${dir}${how}; ${ALLOW_HINT}`);
  const real = await realpath(abs).catch((err: unknown) => {
    if (code(err) === 'ENOENT') return null;
    throw err;
  });
  if (real === null) {
    if (!within(dir, abs)) throw outside('');
    return; // missing: its own check reports it
  }
  const root = await realpath(dir);
  if (!within(root, real)) {
    const link = within(dir, abs) ? await firstLink(dir, abs) : undefined;
    throw outside(link ? ` (through the symbolic link ${link}, to ${real})` : '');
  }
  if (!(await lstat(real)).isDirectory()) return;
  for (const entry of await readdir(real)) {
    const inner = await realpath(join(real, entry)).catch(() => null);
    if (inner !== null && !within(root, inner)) {
      throw new Error(`${what} "${join(shown, entry)}" is outside the manifest's folder ${dir} (it leads to ${inner}); ${ALLOW_HINT}`);
    }
  }
}
