/**
 * The benchmark: `npm run eval [-- options]`. Runs the held-out scenes (scenes/heldout, or a larger
 * set written by python/make_benchmark.py and named with --scenes) through
 * the library on a model pack (the built-in one by default), prints one table and writes it as
 * JSON. Sections: VAE round trip, invert + reconstruct per solver and budget, generate, text
 * edit, masked swap, and wall times.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveSettings } from '../src/edit/frames/settings.js';
import { builtinPackDir } from '../src/model/builtin.js';
import { loadPack } from '../src/model/pack.js';
import { readImage } from '../src/media/image.js';
import { loadCase, readIndex, heldoutDir, type Case } from './eval/dataset.js';
import { editAsCommand, generation, inversion, textEdit, timed, vaeRoundTrip, type Context } from './eval/sections.js';
import { layerSets } from './eval/layer-sets.js';
import { swap } from './eval/swap.js';
import { formatTable, type Row } from './eval/table.js';
import { loadWorld } from '../src/world/world.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECTIONS = ['vae', 'inversion', 'generate', 'edit', 'swap', 'layers', 'timing'] as const;

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'eval.json') },
    stills: { type: 'string', default: '50' },
    clips: { type: 'string', default: '16' },
    'sweep-clips': { type: 'string', default: '4' },
    only: { type: 'string', default: SECTIONS.join(',') },
    'auto-mask': { type: 'string' },
    scenes: { type: 'string', default: heldoutDir(ROOT) },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run eval -- [--model DIR] [--out FILE] [--stills N] [--clips N] [--sweep-clips N] [--auto-mask θ] [--only ${SECTIONS.join(',')}]
  --sweep-clips: clips in the invert + reconstruct solver sweep (each costs 18 round trips) and in the layer-set comparison
  --auto-mask θ: the text edit's automatic mask instead of the pack's (0 = none, edit everywhere)
  --scenes DIR: the held-out folder (default scenes/heldout, 50 stills and 16 clips); a larger one, whose first cases
                are the committed ones, from: /usr/bin/python3 python/make_benchmark.py --out DIR --stills 200 --clips 16`);
  process.exit(0);
}
const only = new Set(values.only.split(','));
for (const s of only) if (!SECTIONS.includes(s as (typeof SECTIONS)[number])) throw new Error(`Unknown section '${s}': choose from ${SECTIONS.join(', ')}`);

/** The held-out folder's cases, once the folder and the counts asked for are checked (before any model is loaded). */
function checkedCases(dir: string): Case[] {
  if (!existsSync(join(dir, 'index.json'))) {
    throw new Error(`--scenes ${dir} holds no index.json: write a held-out set there with /usr/bin/python3 python/make_benchmark.py --out ${dir}`);
  }
  const cases = readIndex(dir);
  for (const kind of ['still', 'clip'] as const) {
    const asked = Number(values[`${kind}s`]);
    const held = cases.filter((c) => c.kind === kind).length;
    if (!Number.isInteger(asked) || asked < 0) throw new Error(`--${kind}s must be a whole number ≥ 0, got '${values[`${kind}s`]}'`);
    if (asked > held) {
      throw new Error(`--${kind}s ${asked} asks for more ${kind}s than ${dir} holds (${held}): ask for at most ${held}, or write a larger set with python/make_benchmark.py --out DIR --${kind}s ${asked} and pass --scenes DIR`);
    }
  }
  return cases;
}

async function main(): Promise<void> {
  const scenes = resolve(values.scenes);
  const cases = checkedCases(scenes);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const packDir = values.model ? resolve(values.model) : builtinPackDir();
  const [pack, loadS] = await timed(() => loadPack(packDir));
  const world = loadWorld(ROOT);
  const stills = await Promise.all(cases.filter((c) => c.kind === 'still').slice(0, Number(values.stills)).map((c) => loadCase(scenes, c)));
  const clips = await Promise.all(cases.filter((c) => c.kind === 'clip').slice(0, Number(values.clips)).map((c) => loadCase(scenes, c)));
  const autoMask = values['auto-mask'] === undefined ? undefined : Number(values['auto-mask']);
  const ctx: Context = { pack, world, stills, clips, log, ...(autoMask !== undefined ? { edit: { autoMask } } : {}) };
  log(`flowedit eval: pack ${pack.manifest.id} (${relative(ROOT, packDir)}), ${stills.length} stills, ${clips.length} clips of ${clips[0]?.frames ?? 0} frames`);

  const rows: Row[] = [];
  const section = async (name: (typeof SECTIONS)[number], f: () => Promise<Row[]>) => {
    if (!only.has(name)) return;
    const [r, s] = await timed(f);
    log(`${name}: ${s.toFixed(1)} s`);
    rows.push(...r);
  };
  await section('vae', () => vaeRoundTrip(ctx));
  await section('inversion', () => inversion(ctx, Number(values['sweep-clips'])));
  await section('generate', () => generation(ctx));
  await section('edit', () => textEdit(ctx));
  await section('swap', () => swap(ctx));
  await section('layers', () => layerSets(ctx, Number(values['sweep-clips'])));
  await section('timing', async () => {
    // a 128×128 still edited from its file with the pack's defaults, model load included
    const still = stills[0]!;
    const st = resolveSettings(pack.manifest, 'edit', ctx.edit ?? {});
    const [, stillS] = await timed(async () => {
      const p = await loadPack(packDir);
      const frames = [await readImage(join(scenes, `${still.id}.png`))];
      await editAsCommand(p, frames, { source: still.caption, target: still.targetCaption }, st);
    });
    const out: Row[] = [{ section: 'wall time', setting: `edit with defaults, model load included`, metric: 'time', stills: stillS, clips: null, n: [1, 0], target: '≤ 10 s (still)', met: stillS <= 10 }];
    const clip = clips[0];
    if (clip) {
      const [, clipS] = await timed(async () => {
        const p = await loadPack(packDir);
        await editAsCommand(p, clip.source, { source: clip.caption, target: clip.targetCaption }, st);
      });
      out[0] = { ...out[0]!, clips: clipS, n: [1, 1] };
    }
    return out;
  });

  const table = formatTable(rows);
  console.log(`flowedit eval: pack ${pack.manifest.id}, ${stills.length} stills, ${clips.length} clips (${clips[0]?.frames ?? 0} frames), ${pack.manifest.image.defaultSize?.join('×') ?? ''} px; pack load ${loadS.toFixed(2)} s\n`);
  console.log(table);
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, `${JSON.stringify({ pack: pack.manifest.id, packDir: relative(ROOT, packDir), scenes: relative(ROOT, scenes), date: new Date().toISOString(), stills: stills.length, clips: clips.length, rows }, null, 1)}\n`);
  log(`written ${relative(ROOT, values.out)}`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`eval failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
