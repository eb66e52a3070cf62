/**
 * The built-in pack, models/flowedit-tiny: valid, small, the default of every command, and
 * trained (its round trips stay close to the source; a broken export or untrained weights fail).
 */
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { heldoutDir, loadCase, readIndex } from '../../bench/eval/dataset.js';
import { clipPsnr } from '../../src/world/metrics.js';
import { invertLatent } from '../../src/edit/latent/invert.js';
import { decodeFrames, encodeFrames } from '../../src/edit/frames/latents.js';
import { reconstructLatent } from '../../src/edit/latent/sample.js';
import { readImage } from '../../src/media/image.js';
import { readPngTextChunks } from '../../src/media/png-text.js';
import { builtinPackDir } from '../../src/model/builtin.js';
import { loadPack, validatePack } from '../../src/model/pack.js';
import { flowedit } from '../cli/run.js';
import { ROOT, tempDir } from '../paths.js';

const BUILTIN = join(ROOT, 'models/flowedit-tiny');

test('the built-in pack is models/flowedit-tiny: valid, under 40 MB, 128×128 stills and clips of up to 17 frames', async () => {
  assert.equal(builtinPackDir(), BUILTIN);
  assert.deepEqual(await validatePack(BUILTIN), []);
  let bytes = 0;
  for (const f of await readdir(BUILTIN)) bytes += (await stat(join(BUILTIN, f))).size;
  assert.ok(bytes < 40e6, `${bytes} bytes`);
  const m = JSON.parse(await readFile(join(BUILTIN, 'manifest.json'), 'utf8'));
  assert.equal(m.id, 'flowedit-tiny');
  assert.deepEqual(m.image.defaultSize, [128, 128]);
  assert.equal(m.frames.max, 17);
});

test('the built-in VAE and inversion keep held-out scenes (floors well below the benchmark figures)', async () => {
  const pack = await loadPack(BUILTIN);
  try {
    const cases = readIndex(heldoutDir(ROOT)).filter((c) => c.kind === 'still').slice(0, 4);
    for (const c of cases) {
      const lc = await loadCase(heldoutDir(ROOT), c);
      const z0 = await encodeFrames(pack, lc.source);
      const vae = clipPsnr(await decodeFrames(pack, z0), lc.source);
      assert.ok(vae >= 22, `${c.id}: VAE round trip ${vae.toFixed(2)} dB`);
      const inv = await invertLatent(pack, z0, { sourcePrompt: c.caption, steps: 19, solver: 'fireflow' });
      const rec = clipPsnr(await decodeFrames(pack, (await reconstructLatent(pack, inv)).z), lc.source);
      assert.ok(rec >= 24 && rec >= vae - 3, `${c.id}: reconstruction ${rec.toFixed(2)} dB against the VAE's ${vae.toFixed(2)} dB`);
    }
  } finally {
    await pack.release();
  }
});

test('commands run on the built-in pack by default: edit a sample scene and generate one', async () => {
  const dir = await tempDir();
  const scenes = JSON.parse(await readFile(join(ROOT, 'samples/scenes/scenes.json'), 'utf8')) as { image?: string; caption: string; targetPrompt: string }[];
  const still = scenes.find((s) => s.image)!;
  const out = join(dir, 'edited.png');
  const r = await flowedit(['edit', join(ROOT, 'samples/scenes', still.image!), '--source-prompt', still.caption, '--target-prompt', still.targetPrompt, '--steps', '2', '-q', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const img = await readImage(out);
  assert.deepEqual([img.width, img.height], [128, 128]);
  assert.equal(JSON.parse(readPngTextChunks(await readFile(out)).flowedit!).model, 'flowedit-tiny');
  const gen = join(dir, 'generated.png');
  const g = await flowedit(['generate', '--prompt', 'a red circle and a blue star on gray stripes', '--steps', '2', '-q', '-o', gen]);
  assert.equal(g.code, 0, g.stderr);
  const gi = await readImage(gen);
  assert.deepEqual([gi.width, gi.height], [128, 128]);
});
