import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { graphTuning, loadPack, PackError, readPack, validatePack } from '../../src/model/pack.js';
import { openGraph } from '../../src/model/ort.js';
import { graphSpecs } from '../../src/model/ports.js';
import { noise, TINY, TINY_PIXEL, tempDir } from '../paths.js';

async function copyPack(src: string): Promise<string> {
  const dir = join(await tempDir(), 'pack');
  await cp(src, dir, { recursive: true });
  return dir;
}

async function editManifest(dir: string, change: (m: Record<string, any>) => void): Promise<void> {
  const path = join(dir, 'manifest.json');
  const m = JSON.parse(await readFile(path, 'utf8'));
  change(m);
  await writeFile(path, JSON.stringify(m));
}

test('the fixture packs validate cleanly (real ONNX graphs)', async () => {
  assert.deepEqual(await validatePack(TINY), []);
  assert.deepEqual(await validatePack(TINY_PIXEL), []);
});

test('a missing file and a missing folder are reported', async () => {
  const dir = await copyPack(TINY);
  await rm(join(dir, 'vae_decoder.onnx'));
  const problems = await validatePack(dir);
  assert.deepEqual(problems, ['vae_decoder.onnx: file not found (the vae decoder)']);
  assert.deepEqual(await validatePack(join(dir, 'nope')), ['folder not found']);
});

test('ONNX ports that disagree with the manifest are reported by name', async () => {
  const dir = await copyPack(TINY);
  await editManifest(dir, (m) => {
    m.transformer.contextLayers = [0, 1, 2, 3];
    m.transformer.layers = 4;
    m.text.dim = 7;
  });
  const problems = await validatePack(dir);
  assert.ok(problems.some((p) => p.includes("missing input 'ctx_k.3'")), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes("missing output 'k.3'")), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes("input 'text' axis 2 is 32, expected 7")), problems.join('\n'));
});

test('loading checks the ports too, and a bad manifest names the fix', async () => {
  const dir = await copyPack(TINY_PIXEL);
  await editManifest(dir, (m) => {
    m.transformer.guidance = 'cfg';
  });
  await assert.rejects(loadPack(dir), (err: unknown) => {
    assert.ok(err instanceof PackError);
    assert.ok(err.problems.some((p) => p.includes("unexpected input 'guidance'")), err.problems.join('\n'));
    assert.match(err.message, /flowedit models validate/);
    return true;
  });
  await writeFile(join(dir, 'manifest.json'), '{ not json');
  await assert.rejects(readPack(dir), /manifest.json is not valid JSON/);
});

test('the VAE and text encoders open without the memory pattern, the transformer with it; the outputs do not change', async () => {
  const roles = graphSpecs((await readPack(TINY)).manifest).map((spec) => [spec.role, graphTuning(spec)?.memPattern ?? true]);
  assert.deepEqual(roles, [['transformer', true], ['text encoder', false], ['vae encoder', false], ['vae decoder', false]]);
  const path = join(TINY, 'vae_decoder.onnx');
  const [plain, tuned] = [await openGraph(path), await openGraph(path, { tuning: graphTuning({ role: 'vae decoder' })! })];
  try {
    const channels = plain.inputs[0]!.shape[1] as number;
    const z = noise([1, channels, 2, 4, 4], 3); // [B, C, F', H', W']
    const runs = [];
    for (const g of [plain, tuned, plain, tuned, tuned]) runs.push((await g.run({ latents: { dtype: 'float32', data: z.data, shape: z.shape } }, ['pixels'])).pixels!.data);
    for (const r of runs.slice(1)) assert.deepEqual(r, runs[0]);
  } finally {
    await Promise.all([plain.release(), tuned.release()]);
  }
});
