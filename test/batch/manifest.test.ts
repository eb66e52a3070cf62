/** Manifests: YAML and JSON Lines, paths relative to the manifest, every item checked before any runs. */
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseManifest, readManifest } from '../../src/batch/manifest.js';
import { planBatch } from '../../src/batch/plan.js';
import { readPack } from '../../src/model/pack.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';

async function fixture(): Promise<string> {
  const dir = await tempDir('flowedit-manifest-');
  await mkdir(join(dir, 'in'));
  await copyFile(SAMPLE, join(dir, 'in', 'circle.png'));
  return dir;
}

test('YAML and JSON Lines manifests read the same items, paths relative to the manifest', async () => {
  const dir = await fixture();
  const yaml = parseManifest(
    'preset: recolor\nitems:\n  - input: in/circle.png\n    sourcePrompt: a red circle\n    targets: {blue: a blue circle, green: a green circle}\n    steps: 3\n',
    join(dir, 'm.yaml'),
  );
  const jsonl = parseManifest(
    '{"input": "in/circle.png", "sourcePrompt": "a red circle", "targets": {"blue": "a blue circle", "green": "a green circle"}, "steps": 3, "preset": "recolor"}\n\n',
    join(dir, 'm.jsonl'),
  );
  assert.deepEqual(yaml.items, jsonl.items);
  const item = yaml.items[0]!;
  assert.equal(item.id, 'circle');
  assert.equal(item.input, join(dir, 'in', 'circle.png'));
  assert.deepEqual(item.targets, [{ code: 'blue', prompt: 'a blue circle' }, { code: 'green', prompt: 'a green circle' }]);
  assert.deepEqual(item.recipe, { steps: 3 });
  assert.throws(() => parseManifest('{"input": "a.png", "stepz": 3}\n', 'm.jsonl'), /m\.jsonl:1: unknown key "stepz"; expected one of id, input, mask/);
  assert.throws(() => parseManifest('{"input": "a.png"\n', 'm.jsonl'), /m\.jsonl:1: not valid JSON/);
  assert.throws(() => parseManifest('- input: a.png\n  targets: [a blue circle]\n', 'm.yaml'), /m\.yaml item 1: targets: expected a mapping of output codes/);
  assert.throws(() => parseManifest('- input: a.png\n  targets: {"a b": x}\n', 'm.yaml'), /code "a b" must be 1-32 letters/);
  assert.throws(() => parseManifest('- input: a.png\n  guidance: high\n', 'm.yaml'), /m\.yaml item 1: guidance: expected a number in \(0, 100\] \(1 = off\) but received "high"/);
  assert.throws(() => parseManifest('- sourcePrompt: x\n', 'm.yaml'), /input: expected non-empty text but received nothing/);
  assert.throws(() => parseManifest('items: []\n', 'm.yaml'), /m\.yaml lists no items/);
});

test('validation reports every bad item at once: missing input, bad mask path, unknown preset, escaping or clashing outputs, broken clips, per-frame masks on stills', async () => {
  const dir = await fixture();
  const file = join(dir, 'm.yaml');
  await writeFile(join(dir, 'in/clip.mp4'), 'not a video');
  await writeFile(join(dir, 'in/mask.mp4'), 'not a video either');
  await writeFile(
    file,
    [
      '- input: in/circle.png', // good
      '  targets: {blue: a blue circle}',
      '- input: in/missing.png',
      '  targets: {blue: a blue circle}',
      '- id: masked',
      '  input: in/circle.png',
      '  mask: in/no-mask.png',
      '  targets: {blue: a blue circle}',
      '- id: ../escape',
      '  input: in/circle.png',
      '  targets: {blue: a blue circle}',
      '- id: other',
      '  input: in/circle.png',
      '  preset: no-such-preset',
      '  targets: {blue: a blue circle}',
      '- id: circle', // same outputs as item 1
      '  input: in/circle.png',
      '  targets: {blue: a bluer circle}',
      '- id: swapped',
      '  input: in/circle.png',
      '  preset: swap-object',
      '  targets: {blue: a blue circle}',
      '- id: rec',
      '  input: in/circle.png',
      '  preset: reconstruct-check',
      '  targets: {blue: a blue circle}',
      '- id: film',
      '  input: in/clip.mp4',
      '  targets: {blue: a blue circle}',
      '- id: swap-clip-mask',
      '  input: in/circle.png',
      '  mask: in/mask.mp4',
      '  preset: swap-object',
      '  targets: {blue: a blue circle}',
      '',
    ].join('\n'),
  );
  const pack = await readPack(TINY);
  const manifest = await readManifest(file);
  const err = await planBatch(manifest, pack, { outDir: join(dir, 'out'), batchSeed: 0, flags: {} }).then(
    () => assert.fail('an invalid manifest was accepted'),
    (e: Error) => e,
  );
  const m = err.message;
  assert.match(m, /m\.yaml has 9 problems \(nothing was run\):/);
  assert.match(m, /item 2 \(missing\): Input not found: .*in\/missing\.png/);
  assert.match(m, /item 3 \(masked\): Mask not found: .*in\/no-mask\.png/);
  assert.match(m, /item 4 \(\.\.\/escape\): output "\.\.\/escape-blue\.png" would be written outside the output folder/);
  assert.match(m, /item 5 \(other\): Unknown preset "no-such-preset"/);
  assert.match(m, /item 6 \(circle\): writes circle-blue\.png, as item 1 \(circle\) does; give the items distinct ids/);
  assert.match(m, /item 7 \(swapped\): command "swap" needs "mask"/);
  assert.match(m, /item 8 \(rec\): command "reconstruct" takes no targets/);
  assert.match(m, /item 9 \(film\): Cannot read .*clip\.mp4 as a video/);
  assert.match(m, /item 10 \(swap-clip-mask\): mask .*mask\.mp4 has a mask per frame, but the input is a still: give one mask image/);
  assert.doesNotMatch(m, /- item 1 /, 'the good item is not a problem');
});

test('a valid plan: preset < item < flag, seeds from the batch seed, names inside the output folder', async () => {
  const dir = await fixture();
  const file = join(dir, 'm.yaml');
  await writeFile(
    file,
    'preset: recolor\nitems:\n  - id: shapes/circle\n    input: in/circle.png\n    targets: {blue: a blue circle}\n    guidance: 3.5\n    solver: midpoint\n  - id: seeded\n    input: in/circle.png\n    targets: {blue: a blue circle}\n    seed: 9\n',
  );
  const pack = await readPack(TINY);
  const out = join(dir, 'out');
  const plan = await planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 1, flags: { solver: 'euler' } });
  const [a, b] = plan.items;
  assert.equal(a!.settings.steps, 12, 'preset over pack default (8)');
  assert.equal(a!.settings.guidance, 3.5, 'item over preset (2.5)');
  assert.equal(a!.settings.solver, 'euler', 'flag over item (midpoint) and preset (fireflow)');
  assert.equal(a!.outputs[0]!.file, join(out, 'shapes', 'circle-blue.png'));
  assert.equal(a!.outputs[0]!.sidecar, join(out, 'shapes', 'circle-blue.json'));
  assert.equal(b!.settings.seed, 9, 'an explicit seed wins');
  const again = await planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 2, flags: { solver: 'euler' } });
  assert.notEqual(again.items[0]!.settings.seed, a!.settings.seed, 'another batch seed, another item seed');
  assert.notEqual(again.items[0]!.outputs[0]!.key, a!.outputs[0]!.key, 'the seed is part of the output key');
});
