import { stat, readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { builtinPackDirs } from '../../model/builtin.js';
import { findPack, homePackNames, homePacksDir } from '../../model/home.js';
import type { Manifest } from '../../model/manifest.js';
import { readPack, validatePack } from '../../model/pack.js';
import { quantizePack } from '../../model/quantize.js';
import { UserError } from '../errors.js';
import type { GlobalArgs } from '../options.js';
import { progressLine } from '../progress-bar.js';

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
    const kind = `${m.vae ? 'latent' : 'pixel'} space, ${m.transformer.layers} layers, text ${m.transformer.text}, ${m.transformer.guidance}, ${precision(m)}`;
    const size = `${((await folderBytes(dir)) / 1024).toFixed(0)} kB`;
    const name = own.includes(dir) ? `${basename(dir)} (yours)` : m.id;
    rows.push(`${dir === dirs[0] ? '*' : ' '} ${name.padEnd(24)} ${m.name} (${kind}, ${size})\n    ${dir}`);
  }
  process.stdout.write(`${rows.join('\n')}\n* = default (used when --model is not given); (yours): in ${homePacksDir()}, used with --model <name>\n`);
}

/** How the transformer's weights are stored: float32, float16, or int8. */
export function precision(m: Manifest): string {
  return m.transformer.weights === 'int8' ? 'int8 weights' : (m.transformer.dtype ?? 'float32');
}

export async function validateAction(dir: string): Promise<void> {
  const problems = await validatePack(dir);
  if (problems.length > 0) {
    throw new UserError(`model pack ${dir} has ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n  - ${problems.join('\n  - ')}`);
  }
  const info = await readPack(dir);
  process.stdout.write(`${dir}: valid flowedit pack '${info.manifest.id}' (format ${info.manifest.formatVersion}, ${precision(info.manifest)})\n`);
}

interface QuantizeArgs extends GlobalArgs {
  pack: string;
  out?: string;
  force: boolean;
}

export async function quantizeAction(a: QuantizeArgs): Promise<void> {
  const info = await findPack(a.pack).catch((err: Error) => {
    throw new UserError(err.message);
  });
  const builtin = builtinPackDirs().map((d) => resolve(d)).includes(info.dir);
  const out = a.out ? resolve(a.out) : builtin ? join(homePacksDir(), `${info.manifest.id}-int8`) : join(dirname(info.dir), `${basename(info.dir)}-int8`);
  const bar = progressLine(process.stderr, a.quiet);
  const report = await quantizePack(info.dir, out, { replace: a.force, onProgress: (e) => bar.update('quantising', e.done, e.total) })
    .catch((err: Error) => {
      throw new UserError(err.message);
    })
    .finally(() => bar.done());
  const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;
  const left = report.leftFloat32.length ? `; left float32: ${report.leftFloat32.length} (${[...new Set(report.leftFloat32.map((l) => l.why))].join('; ')})` : '';
  process.stderr.write(`flowedit: ${report.quantised.length} matmuls int8 (${report.weights} weights), ${report.graphs.join(', ')} ${kb(report.bytesBefore)} → ${kb(report.bytesAfter)}${left}\n`);
  const name = builtin && !a.out ? ` (--model ${basename(out)})` : '';
  process.stdout.write(`${out}${name}\n`);
}
