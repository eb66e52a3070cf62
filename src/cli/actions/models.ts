import { stat, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { builtinPackDirs } from '../../model/builtin.js';
import { homePackNames, homePacksDir } from '../../model/home.js';
import { readPack, validatePack } from '../../model/pack.js';
import { UserError } from '../errors.js';

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await stat(p)).size;
  }
  return total;
}

export async function listAction(): Promise<void> {
  const dirs = builtinPackDirs();
  const own = (await homePackNames()).map((name) => join(homePacksDir(), name));
  const rows: string[] = [];
  for (const dir of [...dirs, ...own]) {
    const info = await readPack(dir).catch(() => null);
    if (!info) continue;
    const m = info.manifest;
    const kind = `${m.vae ? 'latent' : 'pixel'} space, ${m.transformer.layers} layers, text ${m.transformer.text}, ${m.transformer.guidance}`;
    const size = `${((await folderBytes(dir)) / 1024).toFixed(0)} kB`;
    const name = own.includes(dir) ? `${basename(dir)} (yours)` : m.id;
    rows.push(`${dir === dirs[0] ? '*' : ' '} ${name.padEnd(24)} ${m.name} (${kind}, ${size})\n    ${dir}`);
  }
  process.stdout.write(`${rows.join('\n')}\n* = default (used when --model is not given); (yours): in ${homePacksDir()}, used with --model <name>\n`);
}

export async function validateAction(dir: string): Promise<void> {
  const problems = await validatePack(dir);
  if (problems.length > 0) {
    throw new UserError(`model pack ${dir} has ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n  - ${problems.join('\n  - ')}`);
  }
  const info = await readPack(dir);
  process.stdout.write(`${dir}: valid flowedit pack '${info.manifest.id}' (format ${info.manifest.formatVersion})\n`);
}
