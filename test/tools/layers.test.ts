import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { it } from 'node:test';
import { ROOT } from '../paths.js';

/**
 * The layers of src/, highest first (README, "Layout"): a module may import its own layer and any
 * layer below it, never one above.
 */
const LAYERS = [
  ['index.ts', 'api.ts'],
  ['cli'],
  ['batch', 'vital'],
  ['jobs'],
  ['edit/records'],
  ['edit/frames'],
  ['edit/latent'],
  ['attention', 'solvers'],
  ['world'],
  ['model'],
  ['media'],
  ['settings', 'version.ts'],
];

const SRC = join(ROOT, 'src');

/** The layer unit a file of src/ belongs to: a folder (edit/'s sub-folders apart) or a top-level file. */
function unitOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  if (parts[0] === 'edit' && parts.length > 2) return `edit/${parts[1]}`;
  return parts[0]!.replace(/\.js$/, '.ts');
}

function rankOf(unit: string): number {
  const rank = LAYERS.findIndex((units) => units.includes(unit));
  assert.ok(rank >= 0, `src/${unit} is in no layer: add it to LAYERS (and to the README's layout)`);
  return rank;
}

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The imports of `file` (its text) that point to a layer above its own. */
function upwardImports(file: string, text: string): string[] {
  const from = unitOf(file);
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = normalize(join(dirname(file), m[1]!));
    const to = unitOf(target);
    if (to !== from && rankOf(to) < rankOf(from)) out.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${from} → ${to})`);
  }
  return out;
}

it('every import in src/ points to its own layer or one below', async () => {
  const files = await sources(SRC);
  assert.ok(files.length > 100, `found only ${files.length} sources under ${SRC}`);
  const upward: string[] = [];
  for (const file of files) upward.push(...upwardImports(file, await readFile(file, 'utf8')));
  assert.deepEqual(upward, [], `imports that point up a layer:\n${upward.join('\n')}`);
});

it('the check finds an upward import and passes a downward one', () => {
  const media = join(SRC, 'media', 'image.ts');
  assert.equal(upwardImports(media, "import { editLatent } from '../edit/latent/edit.js';").length, 1);
  assert.equal(upwardImports(media, "import type { Tensor } from './tensor.js';").length, 0);
  const frames = join(SRC, 'edit', 'frames', 'pipeline.ts');
  assert.equal(upwardImports(frames, "import { editLatent } from '../latent/edit.js';").length, 0);
  assert.equal(upwardImports(join(SRC, 'edit', 'latent', 'edit.ts'), "import { windowsFor } from '../frames/windows.js';").length, 1);
});
