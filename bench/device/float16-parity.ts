/**
 * What a float16 transformer costs in quality: for each pack, its float16 copy (made with
 * `python -m flowedit_export half`, from the project's .venv) runs the same invert → reconstruct →
 * edit chain on the sample as the float32 original, and the outputs are compared by PSNR; each
 * reconstruction is also compared with the source. Usage:
 *   npm run bench:float16 -- [--device cpu|webgpu] [pack ...]   (default: the built-in pack and the fixtures)
 * Prints figures; asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readImage } from '../../src/media/image.js';
import { builtinPackDir } from '../../src/model/builtin.js';
import { pickDevice } from '../../src/model/devices.js';
import { loadPack } from '../../src/model/pack.js';
import { psnr } from '../../src/world/metrics.js';
import { chain, type ChainResult } from './chain.js';

/** This script runs as dist/bench/device/float16-parity.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SAMPLE = join(ROOT, 'samples/red-circle-on-stripes.png');
const { values, positionals } = parseArgs({ options: { device: { type: 'string' }, steps: { type: 'string', default: '10' } }, allowPositionals: true });
const device = pickDevice(values.device);
const packs = positionals.length > 0 ? positionals.map((p) => resolve(p)) : [builtinPackDir(), ...['tiny', 'wan-tiny', 'flux-tiny'].map((p) => join(ROOT, 'test/fixtures/packs', p))];
const python = process.env.FLOWEDIT_PYTHON ?? join(ROOT, '.venv/bin/python');
const settings = { sourcePrompt: 'a red circle on stripes', targetPrompt: 'a blue square on stripes', steps: Number(values.steps), guidance: 2, shareSteps: 0.5 };

async function run(dir: string): Promise<ChainResult> {
  const pack = await loadPack(dir, { device });
  try {
    return await chain(pack, SAMPLE, settings);
  } finally {
    await pack.release();
  }
}

const work = await mkdtemp(join(tmpdir(), 'flowedit-f16-'));
const source = await readImage(SAMPLE);
console.log(`float16 transformer against float32, ${device}, the sample (${source.width}×${source.height}), midpoint ${settings.steps} steps, edit τ ${settings.shareSteps}:`);
console.log('  pack              | reconstruction vs float32 | edit vs float32 | reconstruction vs source (float32 / float16)');
try {
  for (const dir of packs) {
    const half = join(work, basename(dir));
    try {
      execFileSync(python, ['-m', 'flowedit_export', 'half', dir, '--out', half], { cwd: join(ROOT, 'python'), stdio: 'pipe' });
    } catch (err) {
      throw new Error(`making the float16 copy of ${dir} failed: ${(err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message}`);
    }
    const [a, b] = [await run(dir), await run(half)];
    const row = [psnr(b.reconstruction, a.reconstruction), psnr(b.edit, a.edit)].map((x) => `${x.toFixed(1)} dB`);
    console.log(`  ${basename(dir).padEnd(17)} | ${row[0]!.padStart(25)} | ${row[1]!.padStart(15)} | ${psnr(a.reconstruction, source).toFixed(1)} / ${psnr(b.reconstruction, source).toFixed(1)} dB`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
