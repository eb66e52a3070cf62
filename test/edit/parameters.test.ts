/** The parameters text in the shared layout, read back by its parser; records without paths; seeds and variants. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parametersText, parseParameters, recordFromParameters } from '../../src/edit/records/parameters.js';
import { recordTexts, storedRecord, type OutputRecord } from '../../src/edit/records/outputs.js';
import { resolveSettings } from '../../src/edit/frames/settings.js';
import { RANDOM_SEED, variantPath, variantsOf } from '../../src/edit/frames/seeds.js';
import { readPack } from '../../src/model/pack.js';
import { TINY } from '../paths.js';

const base = { model: 'tiny', flowedit: '0.1.0', steps: 2, solver: 'fireflow', seed: 7, width: 64, height: 48 };

/** Records of every command, with prompts that hold the layout's own syntax. */
const RECORDS: OutputRecord[] = [
  { ...base, command: 'generate', prompt: 'a red circle, on: "stripes"', negativePrompt: 'gray dots, pink', guidance: 3, shift: 3, frames: 5, fps: 12 },
  { ...base, command: 'generate', prompt: '', guidance: 1.5 },
  {
    ...base, command: 'edit', sourcePrompt: 'a red circle, on stripes', targetPrompt: 'a blue circle\non two lines', guidance: 2, guideAgainst: 'source',
    shareLayers: [1, 2], shareSteps: 0.5, shareText: true, autoMask: 0.4, fit: 'pad', source: 'photo.png',
  },
  { ...base, command: 'edit', sourcePrompt: '', targetPrompt: ' spaced ', guidance: 2, guideAgainst: 'empty', shareLayers: [], shareSteps: 0, source: 'ünïcode, name.png' },
  {
    ...base, command: 'swap', sourcePrompt: 'a red circle', targetPrompt: 'a blue square', negativePrompt: '', guidance: 4, guideAgainst: 'empty',
    shareLayers: [0], shareSteps: 0.25, fit: 'resize', mask: 'mask.png', maskGrow: 2, maskFeather: 6, maskBias: -10000, invertMask: true, source: 'clip.mp4', fps: 29.97,
  },
  { ...base, command: 'reconstruct', prompt: 'a red circle on stripes', fit: 'pad', source: 'photo.png' },
];

test('the parameters text reads back to the record it was written from', () => {
  for (const r of RECORDS) assert.deepEqual(recordFromParameters(parametersText(r)), r, parametersText(r));
});

test('the layout is the shared one: prompt, negative prompt, then Steps, Sampler, CFG scale, Seed, Size, Model first', () => {
  const r = RECORDS[2]!;
  const text = parametersText({ ...r, negativePrompt: 'gray dots' });
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['a blue circle', 'on two lines', 'Negative prompt: gray dots']);
  const parsed = parseParameters(text);
  assert.deepEqual([...parsed.params.keys()].slice(0, 6), ['Steps', 'Sampler', 'CFG scale', 'Seed', 'Size', 'Model']);
  assert.equal(parsed.params.get('Size'), `${r.width}x${r.height}`);
  assert.equal(parsed.params.get('Source prompt'), r.sourcePrompt, 'a value with a comma comes back whole');
  assert.match(lines[3]!, /Source prompt: "a red circle, on stripes"/, 'quoted as JSON');
  assert.equal([...parsed.params.keys()].pop(), 'Version');
});

test('text written by another tool in the convention parses, and is not taken for flowedit\'s', () => {
  const text = [
    'masterpiece, a cat',
    'Negative prompt: lowres, blurry',
    'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: 6ce0161689, Model: v1-5, Lora hashes: "cat: 1f2e, dog: 3a4b", Version: v1.9.4',
  ].join('\n');
  const parsed = parseParameters(text);
  assert.equal(parsed.prompt, 'masterpiece, a cat');
  assert.equal(parsed.negativePrompt, 'lowres, blurry');
  assert.equal(parsed.params.get('Lora hashes'), 'cat: 1f2e, dog: 3a4b');
  assert.equal(parsed.params.get('Sampler'), 'Euler a');
  assert.equal(recordFromParameters(text), undefined);
  assert.equal(parseParameters('just a prompt, no settings').prompt, 'just a prompt, no settings');
});

test('an output records its source and mask by file name, the full path only when asked', () => {
  const r: OutputRecord = { ...base, command: 'swap', source: '/home/someone/private/photo.png', mask: 'masks/m.png' };
  const texts = recordTexts(r);
  assert.doesNotMatch(texts.flowedit, /\//, 'no path in the JSON');
  assert.doesNotMatch(texts.parameters, /\//, 'nor in the text');
  assert.deepEqual([JSON.parse(texts.flowedit).source, JSON.parse(texts.flowedit).mask], ['photo.png', 'm.png']);
  const full = storedRecord({ ...r, recordPaths: true });
  assert.equal(full.source, '/home/someone/private/photo.png');
  assert.match(full.mask!, /^\/.*\/masks\/m\.png$/, 'a relative mask path made absolute');
  assert.equal('recordPaths' in full, false);
});

test('--seed -1 draws a seed in [0, 2^31); variants take consecutive seeds, named after the output', async () => {
  const pack = await readPack(TINY);
  const drawn = [0, 1, 2].map(() => resolveSettings(pack.manifest, 'generate', { seed: RANDOM_SEED }).seed);
  for (const s of drawn) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 31, `${s}`);
  assert.ok(new Set(drawn).size > 1, `three draws are not all the same: ${drawn.join(', ')}`);
  assert.equal(resolveSettings(pack.manifest, 'generate', { seed: 5 }).seed, 5);
  assert.throws(() => resolveSettings(pack.manifest, 'generate', { seed: -2 }), /Expected an integer from -1 to 4294967295 for --seed but received -2/);
  assert.deepEqual(variantsOf('out/scene.png', 9, 3), [9, 10, 11].map((seed) => ({ seed, output: `out/scene-${seed}.png` })));
  assert.equal(variantPath('clip.mp4', 0), 'clip-0.mp4');
  assert.equal(variantPath('./a.b/clip', 4), 'a.b/clip-4');
  assert.throws(() => variantsOf('x.png', 2 ** 32 - 2, 3), /runs past the largest seed 4294967295: give a lower --seed or fewer variants/);
});
