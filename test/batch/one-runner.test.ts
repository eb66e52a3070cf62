/** A batch item runs through the job runner a command uses: each output is the file its command writes, record included. */
import assert from 'node:assert/strict';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { executeItem } from '../../src/batch/execute.js';
import { parseManifest } from '../../src/batch/manifest.js';
import { planBatch, type BatchPlan } from '../../src/batch/plan.js';
import { planEdit } from '../../src/jobs/plan-edit.js';
import { planInvert } from '../../src/jobs/plan-invert.js';
import { planReconstruct } from '../../src/jobs/plan-reconstruct.js';
import { planSwap } from '../../src/jobs/plan-swap.js';
import { runJob } from '../../src/jobs/run-job.js';
import { readPngTextChunks } from '../../src/media/png-text.js';
import { loadPack, readPack, type LoadedPack } from '../../src/model/pack.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';

const SEED = 5;
const STEPS = 3;

let dir: string;
let pack: LoadedPack;
let plan: BatchPlan;
before(async () => {
  dir = await tempDir('flowedit-one-runner-');
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  await copyFile(join(ROOT, 'samples/scenes/still-2.png'), join(dir, 'scene.png'));
  await copyFile(join(ROOT, 'samples/scenes/still-2-mask.png'), join(dir, 'scene-mask.png'));
  const yaml = [
    'items:',
    '  - id: e',
    '    input: circle.png',
    '    sourcePrompt: a red circle on stripes',
    '    targets:',
    '      blue: a blue circle on stripes',
    '      green: a green circle on stripes',
    '  - id: r',
    '    input: circle.png',
    '    sourcePrompt: a red circle on stripes',
    '    preset: reconstruct-check',
    '  - id: s',
    '    input: scene.png',
    '    mask: scene-mask.png',
    '    preset: swap-object',
    '    sourcePrompt: a star on stripes',
    '    targets:',
    '      red: a red star on stripes',
    '      blue: a blue star on stripes',
  ].join('\n');
  const file = join(dir, 'batch.yaml');
  plan = await planBatch(parseManifest(yaml, file), await readPack(TINY), { outDir: join(dir, 'out'), batchSeed: 0, flags: { steps: STEPS, seed: SEED } });
  pack = await loadPack(TINY);
  for (const item of plan.items) await executeItem(pack, item, item.outputs.map((o) => o.code));
});
after(() => pack?.release());

const common = { model: TINY, steps: STEPS, seed: SEED };
const bytes = (path: string) => readFile(path);
const outOf = (id: string, code: string) => join(dir, 'out', `${id}-${code}.png`);

test('an edit item\'s targets, from one inversion, are the bytes flowedit edit writes for each', { timeout: 60_000 }, async () => {
  for (const [code, targetPrompt] of [['blue', 'a blue circle on stripes'], ['green', 'a green circle on stripes']] as const) {
    const output = join(dir, `edit-${code}.png`);
    const { spec } = await planEdit({ ...common, input: join(dir, 'circle.png'), sourcePrompt: 'a red circle on stripes', targetPrompt, output });
    await runJob(spec, {}, pack);
    assert.deepEqual(await bytes(outOf('e', code)), await bytes(output), `target ${code}`);
  }
  // the record is the command's: it names the source and how it was fitted
  const record = JSON.parse(readPngTextChunks(await bytes(outOf('e', 'blue'))).flowedit!);
  assert.equal(record.command, 'edit');
  assert.equal(record.source, 'circle.png');
  assert.equal(typeof record.fit, 'string');
});

test('a reconstruct item is the bytes of flowedit invert then flowedit reconstruct', { timeout: 60_000 }, async () => {
  const inv = join(dir, 'circle.flowinv');
  const output = join(dir, 'rec.png');
  const item = plan.items.find((i) => i.id === 'r')!;
  const invert = await planInvert({ model: TINY, input: join(dir, 'circle.png'), sourcePrompt: 'a red circle on stripes', steps: item.settings.steps, solver: item.settings.solver, fit: item.settings.fit, output: inv });
  await runJob(invert.spec, {}, pack);
  await runJob((await planReconstruct({ model: TINY, input: inv, seed: SEED, output })).spec, {}, pack);
  assert.deepEqual(await bytes(outOf('r', 'rec')), await bytes(output));
});

test('a swap item\'s targets, from one prepared source, are the bytes flowedit swap writes for each', { timeout: 60_000 }, async () => {
  for (const [code, targetPrompt] of [['red', 'a red star on stripes'], ['blue', 'a blue star on stripes']] as const) {
    const output = join(dir, `swap-${code}.png`);
    const r = { ...common, input: join(dir, 'scene.png'), mask: join(dir, 'scene-mask.png'), preset: 'swap-object', sourcePrompt: 'a star on stripes', targetPrompt, output };
    await runJob((await planSwap(r)).spec, {}, pack);
    assert.deepEqual(await bytes(outOf('s', code)), await bytes(output), `target ${code}`);
  }
});
