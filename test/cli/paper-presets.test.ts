/** The papers' presets and layer groups on the command line: shown resolved, refused before any work with what to add. */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { layeredPack } from '../layered-pack.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let grouped: string;
let dir: string;
before(async () => {
  grouped = await layeredPack();
  dir = await tempDir('flowedit-paper-presets-');
});

// Each test runs its commands one after another; the tests, independent, run side by side.
describe('the papers\' presets on the command line', { concurrency: 3 }, () => {
  test('presets list names the papers\' presets, and presets show resolves each on a pack with layer groups', async () => {
    const list = await flowedit(['presets', 'list']);
    assert.equal(list.code, 0, list.stderr);
    for (const [name, command] of [['rf-solver-edit', 'edit'], ['fireflow', 'edit'], ['kv-edit', 'swap'], ['contextflow', 'edit']]) {
      assert.match(list.stdout, new RegExp(`^${name} +${command} +\\S`, 'm'), name);
    }
    const rf = await flowedit(['presets', 'show', 'rf-solver-edit', '--model', grouped]);
    assert.equal(rf.code, 0, rf.stderr);
    assert.match(rf.stdout, /shareLayers\s+\[1,2\]\s+preset \(layer group single\)/);
    assert.match(rf.stdout, /solver\s+"midpoint"\s+preset/);
    const ff = await flowedit(['presets', 'show', 'fireflow', '--model', grouped]);
    assert.match(ff.stdout, /shareLayers\s+\[1,2\]\s+preset \(layer group single\)/);
    const kv = await flowedit(['presets', 'show', 'kv-edit', '--model', grouped]);
    assert.match(kv.stdout, /shareLayers\s+\[0,1,2\]\s+preset \(layer group all\)/);
    assert.match(kv.stdout, /maskBias\s+-10000\s+preset/);
    const cf = await flowedit(['presets', 'show', 'contextflow', '--model', grouped]);
    assert.match(cf.stdout, /shareLayers\s+\[1,2\]\s+pack tiny-v2-groups/);
    assert.match(cf.stdout, /shareSteps\s+0\.5\s+preset/);
  });

  test('a preset or --share-layers naming a group the pack lacks is refused before any work, saying what to do', async () => {
    const out = join(dir, 'never.png');
    assertCleanFailure(
      await flowedit(['presets', 'show', 'fireflow', '--model', TINY]),
      /Preset "fireflow" shares layer group "single" \(FLUX\.1's single-stream blocks\), which pack 'tiny' does not name in transformer\.layerGroups: run it on a FLUX\.1 pack, or give --share-layers 1,2/,
    );
    const edit = ['edit', SAMPLE, '--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes', '-o', out];
    assertCleanFailure(await flowedit([...edit, '--model', TINY, '--preset', 'rf-solver-edit']), /Preset "rf-solver-edit" shares layer group "single"/);
    assertCleanFailure(await flowedit([...edit, '--model', TINY, '--share-layers', 'single']), /--share-layers names layer group "single" .*or give --share-layers 1,2/);
    // the flag overrides the preset's group, and a group the pack names resolves to its layers
    const fixed = await flowedit([...edit, '--model', TINY, '--preset', 'rf-solver-edit', '--share-layers', '2', '--print-config']);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual((JSON.parse(fixed.stdout) as { settings: { shareLayers: number[] } }).settings.shareLayers, [2]);
    const named = await flowedit([...edit, '--model', grouped, '--share-layers', 'double', '--print-config']);
    assert.equal(named.code, 0, named.stderr);
    assert.deepEqual((JSON.parse(named.stdout) as { settings: { shareLayers: number[] } }).settings.shareLayers, [0]);
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('never')), [], 'nothing written');
  });

  test('kv-edit without --mask is refused with "add --mask FILE"; as an edit preset it says to run swap', async () => {
    const out = join(dir, 'never-kv.png');
    const swap = await flowedit(['swap', SAMPLE, '--model', grouped, '--preset', 'kv-edit', '--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes', '-o', out]);
    assert.equal(swap.code, 2, swap.stderr);
    assertCleanFailure(swap, /Preset "kv-edit" is a swap: it regenerates only what a mask covers .*: add --mask FILE \(white = edit/);
    assertCleanFailure(await flowedit(['swap', SAMPLE, '--model', grouped, '--target-prompt', 'x', '-o', out]), /flowedit swap replaces what a mask covers: add --mask FILE/);
    assertCleanFailure(
      await flowedit(['edit', SAMPLE, '--model', grouped, '--preset', 'kv-edit', '--target-prompt', 'a blue circle on stripes', '-o', out]),
      /Preset "kv-edit" is written for flowedit swap, not edit: run flowedit swap with --mask FILE/,
    );
    // with a mask it runs as KV-Edit asks: every layer at every step, none of the source's keys inside the mask, a hard edge
    const masked = await flowedit(['swap', SAMPLE, '--model', grouped, '--preset', 'kv-edit', '--mask', join(ROOT, 'samples/red-circle-mask.png'), '--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes', '--print-config', '-o', out]);
    assert.equal(masked.code, 0, masked.stderr);
    const config = JSON.parse(masked.stdout) as { settings: { shareLayers: number[]; shareSteps: number; maskBias: number }; mask: { grow: number; feather: number } };
    assert.deepEqual([config.settings.shareLayers, config.settings.shareSteps, config.settings.maskBias], [[0, 1, 2], 1, -10000]);
    assert.deepEqual([config.mask.grow, config.mask.feather], [0, 0]);
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('never')), [], 'nothing written');
  });
});
