/** Presets and recipes: every built-in preset is valid; bad ones are refused naming file, key and expectation. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPreset, listPresetNames, readPresetFile } from '../../src/batch/presets.js';
import { mergeRecipes, readRecipe, settingOptions } from '../../src/batch/recipe.js';
import { resolveSettings } from '../../src/edit/settings.js';
import { readPack } from '../../src/model/pack.js';
import { TINY, tempDir } from '../paths.js';

test('the built-in presets load and resolve on the tiny pack', async () => {
  const names = await listPresetNames();
  for (const name of ['recolor', 'reconstruct-check', 'swap-object', 'text-edit']) assert.ok(names.includes(name), name);
  const pack = await readPack(TINY);
  for (const name of names) {
    const p = await findPreset(name);
    assert.equal(p.name, name);
    assert.ok(p.description.length > 10, `${name} has a description`);
    resolveSettings(pack.manifest, p.recipe.command ?? 'edit', settingOptions(p.recipe));
  }
  const swap = await findPreset('swap-object');
  assert.equal(swap.recipe.command, 'swap');
  assert.equal(swap.recipe.maskGrow, 4);
  assert.equal(swap.recipe.maskFeather, 2.5);
});

test('a preset with an unknown key or a wrong type names the file, the key and what was expected', async () => {
  const dir = await tempDir('flowedit-presets-');
  const typo = join(dir, 'typo.yaml');
  await writeFile(typo, 'steps: 12\nstepz: 10\n');
  await assert.rejects(readPresetFile(typo), /typo\.yaml: unknown key "stepz"; expected one of description, command, steps, solver/);
  const wrong = join(dir, 'wrong.yaml');
  await writeFile(wrong, 'steps: ten\n');
  await assert.rejects(readPresetFile(wrong), /wrong\.yaml: steps: expected a positive integer but received "ten" of type string/);
  const grow = join(dir, 'grow.yaml');
  await writeFile(grow, 'maskGrow: 1.5\n');
  await assert.rejects(readPresetFile(grow), /grow\.yaml: maskGrow: expected a non-negative integer \(pixels\) but received 1\.5 of type number/);
  const feather = join(dir, 'feather.yaml');
  await writeFile(feather, 'maskFeather: -2\n');
  await assert.rejects(readPresetFile(feather), /maskFeather: expected a non-negative number \(pixels\) but received -2/);
  const layers = join(dir, 'layers.yaml');
  await writeFile(layers, 'shareLayers: 1,2\n');
  await assert.rejects(readPresetFile(layers), /shareLayers: expected a list of layer numbers, e\.g\. \[1, 2\] but received "1,2"/);
  const cmd = join(dir, 'cmd.yaml');
  await writeFile(cmd, 'command: paint\n');
  await assert.rejects(readPresetFile(cmd), /command: expected one of invert, reconstruct, edit, swap, generate but received "paint"/);
  const list = join(dir, 'list.yaml');
  await writeFile(list, '- steps: 3\n');
  await assert.rejects(readPresetFile(list), /list\.yaml: a preset is a YAML mapping of settings .* not a list/);
  const broken = join(dir, 'broken.yaml');
  await writeFile(broken, 'steps: [1, 2\n');
  await assert.rejects(readPresetFile(broken), /broken\.yaml:\d+:\d+: not valid YAML/);
  await assert.rejects(findPreset('no-such-preset'), /Unknown preset "no-such-preset": choose one of .*recolor.*flowedit presets list/);
  await assert.rejects(findPreset(join(dir, 'absent.yaml')), /Preset file not found: .*absent\.yaml/);
});

test('recipes layer: later wins, left-out keys fall through', () => {
  const preset = readRecipe({ steps: 12, guidance: 2.5, solver: 'midpoint' }, 'p');
  const item = readRecipe({ guidance: 3.5 }, 'i');
  const flags = { steps: 4, guidance: undefined };
  assert.deepEqual(mergeRecipes(preset, item, flags), { steps: 4, guidance: 3.5, solver: 'midpoint' });
});
