/** Pack format 2: its manifest fields, checked with every problem reported, and the ports they imply. */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkManifest, FORMAT2_FIELDS, textRules, type Manifest } from '../../src/model/manifest.js';
import { validatePack } from '../../src/model/pack.js';
import { graphSpecs } from '../../src/model/ports.js';
import { TINY, TINY_PIXEL, TINY_UNCOND, TINY_V2, tempDir } from '../paths.js';

type Raw = Record<string, any>;

async function fixtureManifest(dir: string): Promise<Raw> {
  return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Raw;
}

function problemsOf(raw: unknown): string[] {
  return checkManifest(raw).problems;
}

test('the format 2 fixture is valid, and the format 1 fixtures still are', async () => {
  for (const dir of [TINY_V2, TINY, TINY_PIXEL, TINY_UNCOND]) assert.deepEqual(problemsOf(await fixtureManifest(dir)), [], dir);
  const v2 = checkManifest(await fixtureManifest(TINY_V2)).manifest!;
  assert.equal(v2.formatVersion, 2);
  assert.deepEqual(v2.latent.scale, [0.8, 1.25, 0.5, 2]);
});

test('every format 2 field is checked, and every bad value reported at once', async () => {
  const m = await fixtureManifest(TINY_V2);
  const bad = {
    ...m,
    latent: { ...m.latent, scale: [0.8, 1.25, 0], shift: [0, 0, 'x', 0] },
    transformer: { ...m.transformer, textMask: 'yes' },
    text: { ...m.text, attentionMask: 1, overflow: 'cut', unknown: 'ignore', clean: 'ftfy', negativePrompt: 3, pooledDim: 0 },
    defaults: { ...m.defaults, shareText: 'on' },
  };
  const problems = problemsOf(bad);
  const expected = [
    'latent.scale: expected a positive number or an array of 4 positive numbers (one per channel), received [0.8,1.25,0]',
    'latent.shift: expected a number or an array of 4 numbers (one per channel), received [0,0,"x",0]',
    'transformer.textMask: expected true or false, received "yes"',
    'text.attentionMask: expected true or false, received 1',
    'text.overflow: expected one of "refuse", "truncate", received "cut"',
    'text.unknown: expected one of "refuse", "keep", received "ignore"',
    'text.clean: expected one of "none", "wan", "clip", received "ftfy"',
    'text.negativePrompt: expected text (may be empty), received 3',
    'text.pooledDim: expected an integer ≥ 1, received 0',
    'defaults.shareText: expected true or false, received "on"',
  ];
  for (const e of expected) assert.ok(problems.includes(e), `${e}\nin:\n${problems.join('\n')}`);
  assert.equal(problems.length, expected.length, problems.join('\n'));
});

test('a format 1 manifest using a format 2 field is refused, saying formatVersion 2', async () => {
  const v1 = await fixtureManifest(TINY);
  const values: Record<string, unknown> = { attentionMask: true, overflow: 'truncate', unknown: 'keep', clean: 'wan', negativePrompt: 'blur', pooledDim: 8, textMask: true, shareText: true };
  for (const [section, fields] of Object.entries(FORMAT2_FIELDS)) {
    for (const field of fields) {
      if (field === 'encoders') continue; // a form of its own (test/model/text-encoders.test.ts)
      const raw = { ...v1, [section]: { ...v1[section], [field]: values[field] } };
      const problems = problemsOf(raw);
      assert.deepEqual(problems, [`${section}.${field}: a formatVersion 2 field, but the manifest says formatVersion 1: set "formatVersion": 2 to use it`], `${section}.${field}`);
      assert.deepEqual(problemsOf({ ...raw, formatVersion: 2 }), [], `${section}.${field} is fine in format 2`);
    }
  }
  const perChannel = problemsOf({ ...v1, latent: { ...v1.latent, scale: [1, 1, 1, 1] } });
  assert.equal(perChannel.length, 1);
  assert.match(perChannel[0]!, /^latent\.scale: per-channel values \(an array\) are a formatVersion 2 field.*"formatVersion": 2/);
  // a misspelt key is still an unknown key, naming only what format 1 allows
  const typo = problemsOf({ ...v1, text: { ...v1.text, maxToken: 8 } });
  assert.ok(typo.some((p) => p.startsWith('text.maxToken: unknown key (allowed: encoder, tokenizer, maxTokens, dim, padId)')), typo.join('\n'));
});

test('format 2 fields that contradict the rest of the manifest are refused', async () => {
  const uncond = await fixtureManifest(TINY_UNCOND);
  assert.ok(
    problemsOf({ ...uncond, formatVersion: 2, transformer: { ...uncond.transformer, textMask: true } }).includes(
      'transformer.textMask: an unconditional pack (transformer.text "none") has no text to mask',
    ),
  );
  const pixel = await fixtureManifest(TINY_PIXEL);
  const distilled = problemsOf({ ...pixel, formatVersion: 2, text: { ...pixel.text, negativePrompt: 'blur' } });
  assert.ok(distilled.some((p) => p.startsWith('text.negativePrompt: a pack with distilled guidance runs no negative branch')), distilled.join('\n'));
  // per-channel arrays in pixel space must still say the identity
  assert.deepEqual(problemsOf({ ...pixel, formatVersion: 2, latent: { ...pixel.latent, scale: [1, 1, 1], shift: [0, 0, 0] } }), []);
  assert.ok(problemsOf({ ...pixel, formatVersion: 2, latent: { ...pixel.latent, scale: [1, 2, 1] } }).some((p) => p.startsWith('latent: a pack without vae works in pixel space')));
});

test('the text defaults reproduce format 1, except that format 2 refuses unknown words by default', async () => {
  const v1 = checkManifest(await fixtureManifest(TINY)).manifest!;
  assert.deepEqual(textRules(v1), { overflow: 'refuse', unknown: 'keep', clean: 'none', negativePrompt: '' });
  const bare = { ...v1, formatVersion: 2 } as Manifest;
  assert.deepEqual(textRules(bare), { overflow: 'refuse', unknown: 'refuse', clean: 'none', negativePrompt: '' });
  const v2 = checkManifest(await fixtureManifest(TINY_V2)).manifest!;
  assert.deepEqual(textRules(v2), { overflow: 'truncate', unknown: 'refuse', clean: 'wan', negativePrompt: 'gray stripes' });
});

test('the new ports follow the manifest: attention_mask, text_mask and pooled', async () => {
  const v2 = checkManifest(await fixtureManifest(TINY_V2)).manifest!;
  const [tr, text] = graphSpecs(v2);
  assert.deepEqual(
    tr!.inputs.slice(0, 5).map((p) => `${p.name} ${p.dtype} [${p.shape.join(', ')}]`),
    ['latents float32 [B, 4, F, H, W]', 't float32 [B]', 'text float32 [B, 8, 32]', 'text_mask float32 [B, 8]', 'pooled float32 [B, 24]'],
  );
  assert.deepEqual(text!.inputs.map((p) => `${p.name} ${p.dtype} [${p.shape.join(', ')}]`), ['input_ids int64 [B, 8]', 'attention_mask int64 [B, 8]']);
  assert.deepEqual(text!.outputs.map((p) => `${p.name} ${p.dtype} [${p.shape.join(', ')}]`), ['text float32 [B, 8, 32]', 'pooled float32 [B, 24]']);
  const v1 = checkManifest(await fixtureManifest(TINY)).manifest!;
  const names = graphSpecs(v1).flatMap((g) => [...g.inputs, ...g.outputs].map((p) => p.name));
  for (const n of ['attention_mask', 'text_mask', 'pooled']) assert.ok(!names.includes(n), `format 1 has no ${n}`);
});

test('flowedit models validate checks the new ports against the graphs', async () => {
  assert.deepEqual(await validatePack(TINY_V2), []);
  // the format 1 graphs under a manifest that declares the format 2 ports
  const dir = join(await tempDir(), 'pack');
  await cp(TINY, dir, { recursive: true });
  const m = await fixtureManifest(TINY);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...m, formatVersion: 2, transformer: { ...m.transformer, textMask: true }, text: { ...m.text, attentionMask: true, pooledDim: 24 } }));
  const problems = await validatePack(dir);
  for (const p of [
    "transformer.onnx: missing input 'text_mask' (float32 [B, 8])",
    "transformer.onnx: missing input 'pooled' (float32 [B, 24])",
    "text_encoder.onnx: missing input 'attention_mask' (int64 [B, 8])",
    "text_encoder.onnx: missing output 'pooled' (float32 [B, 24])",
  ]) {
    assert.ok(problems.includes(p), `${p}\nin:\n${problems.join('\n')}`);
  }
  // and the format 2 graphs under a manifest that leaves them out: flowedit would not feed them
  const v2dir = join(await tempDir(), 'pack');
  await cp(TINY_V2, v2dir, { recursive: true });
  const v2 = await fixtureManifest(TINY_V2);
  const { attentionMask: _a, pooledDim: _p, ...text } = v2.text;
  await writeFile(join(v2dir, 'manifest.json'), JSON.stringify({ ...v2, text, transformer: { ...v2.transformer, textMask: false } }));
  const missing = await validatePack(v2dir);
  for (const p of ["text_encoder.onnx: unexpected input 'attention_mask' (flowedit will not feed it)", "transformer.onnx: unexpected input 'text_mask' (flowedit will not feed it)", "transformer.onnx: unexpected input 'pooled' (flowedit will not feed it)"]) {
    assert.ok(missing.includes(p), `${p}\nin:\n${missing.join('\n')}`);
  }
});

test('validate refuses a negative prompt the pack itself would refuse', async () => {
  const dir = join(await tempDir(), 'pack');
  await cp(TINY_V2, dir, { recursive: true });
  const m = await fixtureManifest(TINY_V2);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...m, text: { ...m.text, negativePrompt: 'blurry stripes' } }));
  const problems = await validatePack(dir);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /^tokenizer\.json: The text\.negativePrompt "blurry stripes" has a word this pack's tokenizer does not know: "blurry"/);
});
