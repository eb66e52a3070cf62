import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveSettings } from '../../src/edit/frames/settings.js';
import { checkManifest } from '../../src/model/manifest.js';
import { TINY, TINY_PIXEL, TINY_UNCOND } from '../paths.js';

async function fixtureManifest(dir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
}

test('the fixture manifests are valid', async () => {
  for (const dir of [TINY, TINY_PIXEL, TINY_UNCOND]) {
    assert.deepEqual(checkManifest(await fixtureManifest(dir)).problems, []);
  }
});

test('every problem is reported, with what was expected and received', async () => {
  const m = await fixtureManifest(TINY);
  const bad = {
    ...m,
    formatVersion: 3,
    colour: 'red',
    transformer: { ...(m.transformer as object), heads: 0, contextLayers: [0, 9], text: 'both' },
  };
  const { manifest, problems } = checkManifest(bad);
  assert.equal(manifest, null);
  assert.ok(problems.includes('formatVersion: expected 1 or 2, received 3'), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('manifest.colour: unknown key')));
  assert.ok(problems.includes('transformer.heads: expected an integer ≥ 1, received 0'));
  assert.ok(problems.some((p) => p.startsWith('transformer.contextLayers: every index must be < layers')));
  assert.ok(problems.includes('transformer.text: expected one of "joint", "cross", "none", received "both"'));
});

test('files must stay inside the pack', async () => {
  const m = await fixtureManifest(TINY);
  const { problems } = checkManifest({ ...m, transformer: { ...(m.transformer as object), file: '../elsewhere.onnx' } });
  assert.ok(problems.some((p) => p.includes('must be relative to the pack folder')));
});

test('a pack without a VAE must declare pixel space', async () => {
  const m = await fixtureManifest(TINY_PIXEL);
  const { problems } = checkManifest({ ...m, latent: { ...(m.latent as object), channels: 4 } });
  assert.ok(problems.some((p) => p.startsWith('latent: a pack without vae works in pixel space')));
});

test('default share layers must have context ports', async () => {
  const m = await fixtureManifest(TINY);
  const { problems } = checkManifest({ ...m, defaults: { shareLayers: [7], tasks: { edit: { shareSteps: 2 } } } });
  assert.ok(problems.some((p) => p.startsWith('defaults.shareLayers: layer 7 has no context ports')));
  assert.ok(problems.some((p) => p.startsWith('defaults.tasks.edit.shareSteps: expected a number in [0, 1], received 2')));
});

test('text is optional only for an unconditional pack', async () => {
  const cond = await fixtureManifest(TINY);
  const { text: _text, ...withoutText } = cond;
  assert.ok(checkManifest(withoutText).problems.some((p) => p.startsWith('text: expected the text encoder section')));
  const uncond = await fixtureManifest(TINY_UNCOND);
  const problems: string[] = checkManifest({ ...uncond, text: cond.text, transformer: { ...(uncond.transformer as object), guidance: 'distilled' } }).problems;
  assert.ok(problems.includes('text: an unconditional pack (transformer.text "none") has no text section'), problems.join('\n'));
  assert.ok(problems.includes('transformer.guidance: an unconditional pack takes no guidance input: use "cfg"'), problems.join('\n'));
});

test('a task may set maskBias, a number in [-10000, 0]', async () => {
  const m = await fixtureManifest(TINY);
  assert.deepEqual(checkManifest({ ...m, defaults: { tasks: { swap: { shareLayers: [2], maskBias: -4 } } } }).problems, []);
  const problems: string[] = checkManifest({ ...m, defaults: { tasks: { swap: { maskBias: 3 } } } }).problems;
  assert.ok(problems.includes('defaults.tasks.swap.maskBias: expected a number in [-10000, 0], received 3'), problems.join('\n'));
});

test('a task may guide against the source prompt: the pack sets it per task, a flag wins, a bad value is refused', async () => {
  const m = await fixtureManifest(TINY);
  const checked = checkManifest({ ...m, defaults: { tasks: { swap: { guideAgainst: 'source' } } } });
  assert.deepEqual(checked.problems, []);
  const manifest = checked.manifest!;
  assert.equal(resolveSettings(manifest, 'swap', {}).guideAgainst, 'source');
  assert.equal(resolveSettings(manifest, 'recolor', {}).guideAgainst, 'source', 'masked tasks take the swap defaults');
  assert.equal(resolveSettings(manifest, 'edit', {}).guideAgainst, 'empty', 'flowedit\'s default is plain guidance');
  assert.equal(resolveSettings(manifest, 'swap', { guideAgainst: 'empty' }).guideAgainst, 'empty');
  assert.throws(() => resolveSettings(manifest, 'swap', { guideAgainst: 'target' }), /Unknown --guide-against "target": choose empty or source/);
  const problems: string[] = checkManifest({ ...m, defaults: { tasks: { swap: { guideAgainst: 'negative' } } } }).problems;
  assert.ok(problems.includes('defaults.tasks.swap.guideAgainst: expected one of "empty", "source", received "negative"'), problems.join('\n'));
  const distilled = checkManifest(await fixtureManifest(TINY_PIXEL)).manifest!;
  assert.throws(() => resolveSettings(distilled, 'edit', { guideAgainst: 'source' }), /distilled input.*use --guide-against empty/);
  assert.equal(resolveSettings(distilled, 'edit', {}).guideAgainst, 'empty');
});

test('a task may set its own guidance: it wins over the pack-wide value and loses to a flag', async () => {
  const m = await fixtureManifest(TINY);
  const checked = checkManifest({ ...m, defaults: { guidance: 4, tasks: { edit: { guidance: 2 } } } });
  assert.deepEqual(checked.problems, []);
  const manifest = checked.manifest!;
  assert.equal(resolveSettings(manifest, 'edit', {}).guidance, 2);
  assert.equal(resolveSettings(manifest, 'generate', {}).guidance, 4);
  assert.equal(resolveSettings(manifest, 'edit', { guidance: 6 }).guidance, 6);
  const problems: string[] = checkManifest({ ...m, defaults: { tasks: { edit: { guidance: 0 } } } }).problems;
  assert.ok(problems.some((p) => p.startsWith('defaults.tasks.edit.guidance: expected a number in (0, 100] (1 = off), received 0')), problems.join('\n'));
});
