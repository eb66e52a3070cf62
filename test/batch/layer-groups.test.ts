/** Layer groups: the manifest's transformer.layerGroups, the group names recipes and --share-layers take, and their refusals. */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { planSharing } from '../../src/attention/plan.js';
import { parseManifest } from '../../src/batch/manifest.js';
import { planBatch } from '../../src/batch/plan.js';
import { readRecipe } from '../../src/settings/recipe.js';
import { parseLayerList } from '../../src/cli/options.js';
import { resolveSettings } from '../../src/edit/frames/settings.js';
import { resolveLayerGroup, type GroupSource } from '../../src/model/layer-groups.js';
import { checkManifest } from '../../src/model/manifest.js';
import { readPack, type PackInfo } from '../../src/model/pack.js';
import { layeredPack, TINY_GROUPS } from '../layered-pack.js';
import { SAMPLE, TINY, TINY_V2, tempDir } from '../paths.js';

type Raw = Record<string, any>;

async function manifestOf(dir: string): Promise<Raw> {
  return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Raw;
}

let grouped: PackInfo;
let tiny: PackInfo;
before(async () => {
  grouped = await readPack(await layeredPack());
  tiny = await readPack(TINY);
});

test('transformer.layerGroups: a format 2 field of ascending context layers, every bad group reported at once', async () => {
  assert.deepEqual(grouped.manifest.transformer.layerGroups, TINY_GROUPS);
  const v1 = await manifestOf(TINY);
  assert.deepEqual(checkManifest({ ...v1, transformer: { ...v1.transformer, layerGroups: { single: [1, 2] } } }).problems, [
    'transformer.layerGroups: a formatVersion 2 field, but the manifest says formatVersion 1: set "formatVersion": 2 to use it',
  ]);
  const v2 = await manifestOf(TINY_V2);
  const withGroups = (layerGroups: unknown) => checkManifest({ ...v2, transformer: { ...v2.transformer, layerGroups } }).problems;
  assert.deepEqual(withGroups({}), [], 'naming no group is allowed');
  assert.match(withGroups([1, 2]).join('\n'), /^transformer\.layerGroups: expected an object of group name → layer indices/);
  const problems = withGroups({ Single: [1], all: [0, 1, 2], empty: [], down: [2, 1], far: [1, 3, 7], half: [0.5] });
  const expected = [
    'transformer.layerGroups.Single: a group name is lower-case letters, digits and hyphens, starting with a letter (e.g. single)',
    'transformer.layerGroups.all: "all" always means every context layer; name the group otherwise',
    'transformer.layerGroups.empty: expected an array of layer indices (integers ≥ 0, at least one), received []',
    'transformer.layerGroups.down: expected ascending unique layer indices',
    'transformer.layerGroups.far: 3, 7 not in contextLayers (a group shares context, so its layers need context ports)',
    'transformer.layerGroups.half: expected an array of layer indices (integers ≥ 0, at least one), received [0.5]',
  ];
  assert.deepEqual(problems, expected);
});

test('a group name stands for the pack\'s layers of that name; "all" for every context layer of any pack', () => {
  assert.deepEqual(resolveLayerGroup(grouped.manifest, 'single', { kind: 'flag' }, [1]), [1, 2]);
  assert.deepEqual(resolveLayerGroup(grouped.manifest, 'double', { kind: 'flag' }, [1]), [0]);
  assert.deepEqual(resolveLayerGroup(tiny.manifest, 'all', { kind: 'flag' }, [1]), [...tiny.manifest.transformer.contextLayers]);
  const settings = resolveSettings(grouped.manifest, 'edit', { shareLayers: 'single', shareSteps: 0.5, steps: 4 });
  assert.deepEqual(settings.shareLayers, TINY_GROUPS.single);
  assert.deepEqual(planSharing({ layers: settings.shareLayers, fraction: settings.shareSteps }, grouped.manifest.transformer.contextLayers, settings.steps).layers, [1, 2]);
});

test('a pack without the group is refused before any work, with what to do for who named it', () => {
  const packLayers = tiny.manifest.defaults?.shareLayers ?? tiny.manifest.transformer.contextLayers;
  const refusal = (from: GroupSource) => () => resolveSettings(tiny.manifest, 'edit', { shareLayers: 'single', shareLayersFrom: from });
  assert.throws(
    refusal({ kind: 'preset', name: 'rf-solver-edit' }),
    new RegExp(`^Error: Preset "rf-solver-edit" shares layer group "single" \\(FLUX\\.1's single-stream blocks\\), which pack 'tiny' does not name in transformer\\.layerGroups: run it on a FLUX\\.1 pack, or give --share-layers ${packLayers.join(',')}$`),
  );
  assert.throws(refusal({ kind: 'flag' }), /^Error: --share-layers names layer group "single" .*: run it on a FLUX\.1 pack, or give --share-layers /);
  assert.throws(refusal({ kind: 'item' }), new RegExp(`^Error: The item's shareLayers names layer group "single" .*or give shareLayers: \\[${packLayers.join(', ')}\\] in the item$`));
  // a group flowedit does not know, on a pack that names others: the pack's names are listed
  assert.throws(
    () => resolveSettings(grouped.manifest, 'edit', { shareLayers: 'deep', shareLayersFrom: { kind: 'flag' } }),
    /^Error: --share-layers names layer group "deep", which pack 'tiny-v2-groups' does not name in transformer\.layerGroups \(it names double, single, all\): run it on a pack that names it/,
  );
});

test('recipes and --share-layers take a group name; anything else that is not a list is refused', () => {
  assert.deepEqual(readRecipe({ shareLayers: 'single', steps: 3 }, 'p.yaml'), { shareLayers: 'single', steps: 3 });
  assert.deepEqual(readRecipe({ shareLayers: [0, 2] }, 'p.yaml'), { shareLayers: [0, 2] });
  for (const bad of ['Single', '1,2', 'single blocks', '-single']) {
    assert.throws(() => readRecipe({ shareLayers: bad }, 'p.yaml'), /p\.yaml: shareLayers: expected a list of layer numbers, e\.g\. \[1, 2\], or the name of a layer group/, bad);
  }
  assert.equal(parseLayerList('single'), 'single');
  assert.equal(parseLayerList(' all '), 'all');
  assert.deepEqual(parseLayerList('1, 2'), [1, 2]);
  assert.throws(() => parseLayerList('1,single'), /Expected comma-separated layer numbers or a layer group's name \(e\.g\. single\) for --share-layers but received "1,single"/);
});

test('batch: an item, its preset or the flags may name a group; a pack without it fails the plan naming the item', async () => {
  const dir = await tempDir('flowedit-groups-batch-');
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  const file = join(dir, 'm.yaml');
  const item = (id: string, extra: string[]) => [`- id: ${id}`, '  input: circle.png', '  sourcePrompt: a red circle on stripes', '  targets: {blue: a blue circle on stripes}', ...extra];
  await writeFile(file, [...item('own', ['  shareLayers: single']), ...item('preset', ['  preset: fireflow']), ...item('plain', [])].join('\n'));
  const manifest = parseManifest(await readFile(file, 'utf8'), file);
  const plan = await planBatch(manifest, grouped, { outDir: join(dir, 'out'), batchSeed: 0, flags: {} });
  assert.deepEqual(plan.items.map((i) => i.settings.shareLayers), [TINY_GROUPS.single, TINY_GROUPS.single, grouped.manifest.defaults!.shareLayers]);
  const err = await planBatch(manifest, tiny, { outDir: join(dir, 'out'), batchSeed: 0, flags: {} }).then(
    () => assert.fail('a group the pack lacks was accepted'),
    (e: Error) => e.message,
  );
  assert.match(err, /item 1 \(own\): The item's shareLayers names layer group "single"/);
  assert.match(err, /item 2 \(preset\): Preset "fireflow" shares layer group "single"/);
  assert.doesNotMatch(err, /item 3/);
  const flagged = await planBatch(manifest, tiny, { outDir: join(dir, 'out'), batchSeed: 0, flags: { shareLayers: 'double' } }).then(
    () => assert.fail('a group the pack lacks was accepted'),
    (e: Error) => e.message,
  );
  assert.match(flagged, /item 3 \(plain\): --share-layers names layer group "double" \(FLUX\.1's double-stream blocks\)/);
});
