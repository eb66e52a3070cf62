/** float16 at the transformer's edges: the bit conversion, and a float16 pack against its float32 original. */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chain, type ChainResult } from '../../bench/device/chain.js';
import { fromFloat16, fromHalfBits, toFloat16, toHalfBits } from '../../src/model/float16.js';
import { loadPack, PackError } from '../../src/model/pack.js';
import { psnr } from '../../src/world/metrics.js';
import { ROOT, SAMPLE, tempDir, TINY } from '../paths.js';

const TINY_F16 = join(ROOT, 'test/fixtures/packs/tiny-f16');

test('float32 → float16 bits: exact values, rounding to nearest even, range ends', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite
    [65520, 0x7c00], // halfway past it rounds to Inf
    [1e6, 0x7c00],
    [-1e4, 0xf0e2], // the attention bias that excludes a key stays finite
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to it rounds to even (0)
    [1.5 * 2 ** -25, 0x0001],
    [1 + 2 ** -11, 0x3c00], // a tie between 1 and its successor goes to the even one
    [1 + 3 * 2 ** -11, 0x3c02],
    [Infinity, 0x7c00],
  ];
  for (const [x, bits] of cases) assert.equal(toHalfBits(x), bits, `toHalfBits(${x})`);
  assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
  for (const [x, bits] of cases) if (Math.abs(x) <= 65504 && bits !== 0x0000) assert.equal(toHalfBits(fromHalfBits(bits)), bits);
  assert.equal(fromHalfBits(0x3555), 0.333251953125);
});

test('every float16 value survives float16 → float32 → float16', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = toFloat16(fromFloat16(all));
  for (let h = 0; h < 65536; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN) assert.ok(Number.isNaN(fromHalfBits(back[h]!)));
    else assert.equal(back[h], h, `0x${h.toString(16)}`);
  }
});

let f32: ChainResult;
let f16: ChainResult;
const settings = { sourcePrompt: 'a red circle on stripes', targetPrompt: 'a blue square on stripes', steps: 6, guidance: 2, shareSteps: 0.5 };

before(async () => {
  for (const [dir, put] of [[TINY, (r: ChainResult) => (f32 = r)], [TINY_F16, (r: ChainResult) => (f16 = r)]] as const) {
    const pack = await loadPack(dir, { threads: 1 });
    put(await chain(pack, SAMPLE, settings));
    await pack.release();
  }
});
after(() => undefined);

test('a float16 pack runs where its manifest says so, fed and read in float32', async () => {
  const m = JSON.parse(await readFile(join(TINY_F16, 'manifest.json'), 'utf8'));
  assert.equal(m.transformer.dtype, 'float16');
  // invert → reconstruct → edit on the float16 graph stays close to the float32 graph it came from
  const rec = psnr(f16.reconstruction, f32.reconstruction);
  const edit = psnr(f16.edit, f32.edit);
  console.log(`float16 vs float32 (tiny fixture, midpoint 6 steps): reconstruction ${rec.toFixed(1)} dB, edit ${edit.toFixed(1)} dB`);
  assert.ok(rec >= 35, `reconstruction ${rec} dB`);
  assert.ok(edit >= 30, `edit ${edit} dB`);
  assert.ok(rec < Infinity && edit < Infinity, 'the float16 graph must actually differ from the float32 one');
});

test('a float16 graph under a manifest that does not say so is refused, with the field to set', async () => {
  const dir = await tempDir('flowedit-f16-');
  await cp(TINY_F16, dir, { recursive: true });
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  delete m.transformer.dtype;
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadPack(dir, { threads: 1 }), (err: Error) => {
    assert.ok(err instanceof PackError);
    assert.match(err.message, /input 'latents' is float16, expected float32 \(a float16 transformer says "dtype": "float16"/);
    return true;
  });
});
