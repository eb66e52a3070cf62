/** A batch's inputs are checked with the plan, before any item runs: their size, and that they decode. */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readManifest } from '../../src/batch/manifest.js';
import { planBatch } from '../../src/batch/plan.js';
import { readPack } from '../../src/model/pack.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';

async function job(): Promise<{ dir: string; out: string; manifest: string }> {
  const root = await tempDir('flowedit-batch-inputs-');
  const dir = join(root, 'job');
  const out = join(root, 'out');
  await mkdir(dir);
  await mkdir(out);
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  const bytes = await readFile(SAMPLE);
  await writeFile(join(dir, 'cut.png'), bytes.subarray(0, Math.floor(bytes.length / 2))); // a truncated PNG
  const manifest = join(dir, 'm.yaml');
  const item = (id: string, input: string) => [`  - id: ${id}`, `    input: ${input}`, '    sourcePrompt: a red circle', '    targets: {blue: a blue circle}'];
  await writeFile(manifest, ['items:', ...item('whole', 'circle.png'), ...item('cut', 'cut.png'), ''].join('\n'));
  return { dir, out, manifest };
}

test('a truncated still is refused with the plan, before any item runs', async () => {
  const { out, manifest } = await job();
  await assert.rejects(
    planBatch(await readManifest(manifest), await readPack(TINY), { outDir: out, batchSeed: 0, flags: {} }),
    (err: Error) => /1 problem/.test(err.message) && /item 2 \(cut\): .*cut\.png.*truncated or damaged/.test(err.message),
  );
  assert.deepEqual(await readdir(out), []);
});

test('--max-input-pixels holds a batch\'s inputs before decoding, and a raised limit is carried to the items', async () => {
  const { dir, out } = await job();
  const manifest = join(dir, 'one.yaml');
  await writeFile(manifest, ['items:', '  - id: whole', '    input: circle.png', '    sourcePrompt: a red circle', '    targets: {blue: a blue circle}', ''].join('\n'));
  const pack = await readPack(TINY);
  await assert.rejects(planBatch(await readManifest(manifest), pack, { outDir: out, batchSeed: 0, flags: {}, maxInputPixels: 100 }), /circle\.png is 128x128 .*more than the limit .*--max-input-pixels 16384/);
  const plan = await planBatch(await readManifest(manifest), pack, { outDir: out, batchSeed: 0, flags: {}, maxInputPixels: 20_000 });
  assert.equal(plan.items[0]!.maxInputPixels, 20_000);
});
