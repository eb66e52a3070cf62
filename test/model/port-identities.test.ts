/**
 * The context ports' identities (docs/model-pack.md section 4), on every pack in the repository:
 * the committed fixture packs and the built-in pack. They need no reference model:
 *  - a layer's own K/V fed back as its context with bias 0 leaves the velocity unchanged
 *    (softmax over [K; K] with values [V; V] is softmax over K with values V);
 *  - a −1e4 bias on every context key equals Sc = 0 (the context is excluded), whatever it holds.
 * (Sc = 0 against the network without ports is checked per pack by the parity tests.)
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import type { LayerKV } from '../../src/model/transformer.js';
import { noise, relativeError, ROOT } from '../paths.js';

async function packDirs(): Promise<string[]> {
  const fixtures = join(ROOT, 'test/fixtures/packs');
  const names = (await readdir(fixtures, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(fixtures, e.name));
  return [...names.sort(), join(ROOT, 'models/flowedit-tiny')];
}

async function identities(pack: LoadedPack): Promise<{ feedBack: number; excluded: number }> {
  const m = pack.manifest;
  const [pt, ph, pw] = m.transformer.patchSize;
  const frames = m.frames ? 2 * pt : pt;
  const latents = noise([1, m.latent.channels, frames, 3 * ph, 2 * pw], 7); // [1, C, F', H', W'], a non-square grid
  const batch = pack.text ? await pack.text.embed(['a small red circle']) : null;
  const text = batch?.text ?? null; // [1, L, D]
  const cond = { ...(batch ? { textMask: batch.mask } : {}), ...(batch?.pooled ? { pooled: batch.pooled } : {}) }; // [1, L], [1, P]
  const t = 0.63;
  const layers = m.transformer.contextLayers;
  const plain = await pack.transformer.forward({ latents, t, text, ...cond, guidance: 2, fetchKV: layers });
  const S = pack.transformer.sequence(latents.shape).length;

  // own K/V fed back as context, bias 0 (a pack that masks its padded text keys itself, through
  // text_mask, gets the same mask on the fed-back copies of those keys, as flowedit's edits do)
  const seq = pack.transformer.sequence(latents.shape);
  const feedBias = new Float32Array(2 * S); // [1, S + Sc], Sc = S
  if (m.transformer.textMask && batch) for (let j = 0; j < seq.textTokens; j++) if (batch.mask.data[j] === 0) feedBias[S + j] = -1e4;
  const fed = await pack.transformer.forward({ latents, t, text, ...cond, guidance: 2, context: plain.kv, bias: new Map(layers.map((l) => [l, feedBias])) });
  const feedBack = relativeError(fed.velocity.data, plain.velocity.data);

  // arbitrary context of another length in every layer, every context key biased by −1e4
  const { heads: h, headDim: d } = pack.transformer;
  const context = new Map<number, LayerKV>();
  const bias = new Map<number, Float32Array>();
  layers.forEach((layer, j) => {
    const Sc = 5 + 3 * j;
    context.set(layer, { k: noise([1, h, Sc, d], 11 + j), v: noise([1, h, Sc, d], 23 + j) }); // [1, h, Sc, d]
    bias.set(layer, new Float32Array(S + Sc).fill(-1e4, S)); // [1, S + Sc]
  });
  const excludedOut = await pack.transformer.forward({ latents, t, text, ...cond, guidance: 2, context, bias });
  const excluded = relativeError(excludedOut.velocity.data, plain.velocity.data);
  return { feedBack, excluded };
}

test('every pack: own K/V fed back as context leaves the velocity unchanged, and a −1e4 bias on all context keys equals no context', async (t) => {
  const dirs = await packDirs();
  assert.ok(dirs.length >= 4, dirs.join(', '));
  for (const dir of dirs) {
    const pack = await loadPack(dir, { threads: 1 });
    try {
      const { feedBack, excluded } = await identities(pack);
      t.diagnostic(`${pack.manifest.id}: own K/V fed back ${feedBack.toExponential(2)}, −1e4 bias ${excluded.toExponential(2)}`);
      assert.ok(feedBack < 1e-4, `${dir}: own K/V as context moved the velocity by ${feedBack} (relative)`);
      assert.ok(excluded < 1e-5, `${dir}: excluded context moved the velocity by ${excluded} (relative)`);
    } finally {
      await pack.release();
    }
  }
});

test('the identities can fail: a context that is not the layer own K/V, with bias 0, moves the velocity', async () => {
  const pack = await loadPack(join(ROOT, 'test/fixtures/packs/tiny'), { threads: 1 });
  try {
    const m = pack.manifest;
    const latents = noise([1, m.latent.channels, 1, 4, 4], 3);
    const text = await pack.text!.encode(['a small red circle']);
    const plain = await pack.transformer.forward({ latents, t: 0.5, text, fetchKV: m.transformer.contextLayers });
    const other = await pack.transformer.forward({ latents: noise([1, m.latent.channels, 1, 4, 4], 4), t: 0.5, text, fetchKV: m.transformer.contextLayers });
    const fed = await pack.transformer.forward({ latents, t: 0.5, text, context: other.kv });
    assert.ok(relativeError(fed.velocity.data, plain.velocity.data) > 1e-3);
  } finally {
    await pack.release();
  }
});
