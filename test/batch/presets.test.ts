/** Presets and recipes: every built-in preset is valid; bad ones are refused naming file, key and expectation. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPreset, listPresetNames, readPresetFile } from '../../src/jobs/presets.js';
import { mergeRecipes, readRecipe } from '../../src/settings/recipe.js';
import { resolveSettings, type SettingOptions } from '../../src/edit/frames/settings.js';
import { readPack } from '../../src/model/pack.js';
import { planSharing } from '../../src/attention/plan.js';
import { layeredPack, TINY_GROUPS } from '../layered-pack.js';
import { TINY, tempDir } from '../paths.js';

/** The presets that carry a paper's recipe (presets/*.yaml cite each). */
const PAPERS = ['rf-solver-edit', 'fireflow', 'kv-edit', 'contextflow'];

test('the built-in presets load and resolve on the tiny pack, those naming a FLUX.1 layer group on a pack that names it', async () => {
  const names = await listPresetNames();
  for (const name of ['recolor', 'reconstruct-check', 'swap-object', 'text-edit', ...PAPERS]) assert.ok(names.includes(name), name);
  const pack = await readPack(TINY);
  const grouped = await readPack(await layeredPack());
  for (const name of names) {
    const p = await findPreset(name);
    assert.equal(p.name, name);
    assert.ok(p.description.length > 10, `${name} has a description`);
    const options: SettingOptions = { ...p.recipe, shareLayersFrom: { kind: 'preset', name } };
    const group = typeof p.recipe.shareLayers === 'string' && p.recipe.shareLayers !== 'all' ? p.recipe.shareLayers : undefined;
    if (group) assert.throws(() => resolveSettings(pack.manifest, p.recipe.command ?? 'edit', options), new RegExp(`Preset "${name}" shares layer group "${group}"`));
    else resolveSettings(pack.manifest, p.recipe.command ?? 'edit', options);
    resolveSettings(grouped.manifest, p.recipe.command ?? 'edit', options);
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
  await assert.rejects(readPresetFile(wrong), /wrong\.yaml: steps: expected an integer from 1 to 1000 but received "ten" of type string/);
  const grow = join(dir, 'grow.yaml');
  await writeFile(grow, 'maskGrow: 1001\n');
  await assert.rejects(readPresetFile(grow), /grow\.yaml: maskGrow: expected a number in \[0, 1000\] \(pixels\) but received 1001 of type number/);
  const feather = join(dir, 'feather.yaml');
  await writeFile(feather, 'maskFeather: -2\n');
  await assert.rejects(readPresetFile(feather), /maskFeather: expected a number in \[0, 1000\] \(pixels\) but received -2/);
  const layers = join(dir, 'layers.yaml');
  await writeFile(layers, 'shareLayers: 1,2\n');
  await assert.rejects(readPresetFile(layers), /shareLayers: expected a list of layer numbers, e\.g\. \[1, 2\], or the name of a layer group .* but received "1,2"/);
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

test("the papers' presets: each paper's solver, and its sharing window and layers as flowedit's shared context on a FLUX.1-like pack", async () => {
  const pack = await readPack(await layeredPack());
  const m = pack.manifest;
  const sharing = async (name: string, task?: string) => {
    const p = await findPreset(name);
    const s = resolveSettings(m, task ?? p.recipe.command ?? 'edit', { ...p.recipe, shareLayersFrom: { kind: 'preset', name } });
    return { p, s, plan: planSharing({ layers: s.shareLayers, fraction: s.shareSteps }, m.transformer.contextLayers, s.steps) };
  };
  // RF-Solver-Edit: Taylor step = midpoint; V injected in the single-stream blocks for the first 3 of 25 steps
  const rf = await sharing('rf-solver-edit');
  assert.deepEqual([rf.s.solver, rf.s.steps, rf.plan.sharedSteps, rf.plan.layers], ['midpoint', 25, 3, [...TINY_GROUPS.single]]);
  // FireFlow: its own solver, 8 steps, the first one shared, every single-stream block
  const ff = await sharing('fireflow');
  assert.deepEqual([ff.s.solver, ff.s.steps, ff.plan.sharedSteps, ff.plan.layers], ['fireflow', 8, 1, [...TINY_GROUPS.single]]);
  // KV-Edit: a swap keeping the background's keys and values in every layer at every step, none of the masked source's
  const kv = await sharing('kv-edit');
  assert.equal(kv.p.recipe.command, 'swap');
  assert.deepEqual([kv.s.solver, kv.plan.sharedSteps, kv.plan.layers, kv.s.maskBias], ['euler', kv.s.steps, [...m.transformer.contextLayers], -10000]);
  // ContextFlow: no command and no layers of its own, so each task takes its calibrated layers; half the steps share
  const cf = await findPreset('contextflow');
  assert.equal(cf.recipe.command, undefined);
  assert.equal(cf.recipe.shareLayers, undefined);
  const calibrated = { ...m, defaults: { ...m.defaults, tasks: { insert: { shareLayers: [2] }, edit: { shareLayers: [0, 1] } } } };
  for (const [task, layers] of [['insert', [2]], ['edit', [0, 1]], ['swap', m.defaults!.shareLayers!]] as const) {
    const s = resolveSettings(calibrated, task, { ...cf.recipe, shareLayersFrom: { kind: 'preset', name: 'contextflow' } });
    assert.deepEqual([s.solver, s.shareLayers, planSharing({ layers: s.shareLayers, fraction: s.shareSteps }, m.transformer.contextLayers, s.steps).sharedSteps], ['midpoint', layers, s.steps / 2], task);
  }
});
