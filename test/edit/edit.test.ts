/** Behaviour of invert / reconstruct / edit on the committed fixture packs (real ONNX sessions). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { editLatent } from '../../src/edit/latent/edit.js';
import { invertImage, editImage, reconstructImage } from '../../src/edit/frames/pipeline.js';
import { noiseOf } from '../../src/edit/latent/invert.js';
import { reconstructLatent, sampleLatent } from '../../src/edit/latent/sample.js';
import type { InversionFile } from '../../src/edit/frames/inversion-file.js';
import { readImage } from '../../src/media/image.js';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import type { ForwardRequest } from '../../src/model/transformer.js';
import { condition, negativePrompt, pathVelocity } from '../../src/edit/latent/velocity.js';
import { maxAbsDiff, psnr, SAMPLE, TINY, TINY_PIXEL } from '../paths.js';

let tiny: LoadedPack;
let pixel: LoadedPack;
let inv: InversionFile;
const SRC = 'a red circle on stripes';
const TGT = 'a blue square on stripes';

before(async () => {
  tiny = await loadPack(TINY, { threads: 1 });
  pixel = await loadPack(TINY_PIXEL, { threads: 1 });
  inv = await invertImage(tiny, SAMPLE, { sourcePrompt: SRC, steps: 6, solver: 'fireflow', fit: 'pad' });
});
after(async () => {
  await tiny.release();
  await pixel.release();
});

const share = (layers: number[], fraction: number) => ({ layers, fraction });

test('the inversion holds the whole trajectory from the source latent to noise', () => {
  assert.equal(inv.inversion.trajectory.length, 7);
  assert.deepEqual(inv.header.latentShape, [1, 4, 1, 32, 32]);
  assert.equal(inv.header.calls, 7); // fireflow: N + 1
  assert.equal(inv.header.modelId, 'tiny');
  assert.match(inv.header.source.sha256, /^[0-9a-f]{64}$/);
});

test('with sharing off the edit path equals plain sampling from the same noise', async () => {
  const plain = await sampleLatent(tiny, noiseOf(inv.inversion), { prompt: TGT, guidance: 2, solver: 'fireflow', ts: inv.inversion.ts });
  for (const keepReconstruction of [false, true]) {
    const edited = await editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([1, 2], 0), keepReconstruction });
    assert.equal(maxAbsDiff(edited.z.data, plain.z.data), 0, `keepReconstruction ${keepReconstruction}`);
  }
});

test('with sharing on the result changes, and more sharing keeps more of the source path', async () => {
  const off = await editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([1, 2], 0) });
  const half = await editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([1, 2], 0.5), keepReconstruction: true });
  const all = await editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([0, 1, 2], 1), keepReconstruction: true });
  assert.ok(maxAbsDiff(off.z.data, half.z.data) > 1e-3, 'sharing changes the edit');
  const rec = half.reconstruction!.data;
  assert.ok(psnr(all.z.data, rec) > psnr(off.z.data, rec), 'sharing pulls the edit toward the reconstruction');
});

test('guiding against the source prompt: v = v_src + g (v_tgt − v_src), the same as plain guidance for an empty source prompt', async () => {
  const shape = inv.inversion.latentShape;
  const x = noiseOf(inv.inversion).data;
  const velocity = async (prompt: string, guidance: number, negative?: string) => (await pathVelocity(tiny, await condition(tiny, prompt, guidance, negative), shape).call(x, 0.7)).v.slice();
  const vTgt = await velocity(TGT, 1); // guidance 1: the conditional branch alone
  const vSrc = await velocity(SRC, 1);
  const guided = await velocity(TGT, 3, SRC);
  const expected = vTgt.map((vt, i) => vSrc[i]! + 3 * (vt - vSrc[i]!));
  assert.ok(maxAbsDiff(guided, expected) < 1e-4, `max diff ${maxAbsDiff(guided, expected)}`);
  assert.ok(maxAbsDiff(guided, await velocity(TGT, 3)) > 1e-3, 'the source prompt is not the empty prompt');
  assert.equal(maxAbsDiff(await velocity(TGT, 3, ''), await velocity(TGT, 3)), 0);
  assert.equal(negativePrompt('source', SRC), SRC);
  assert.equal(negativePrompt('empty', SRC), undefined, "plain guidance takes the pack's own negative prompt (the empty one for this pack)");
});

test('an edit guided against its source prompt differs from plain guidance, also after the shared steps', async () => {
  const run = (guideAgainst: 'empty' | 'source', fraction: number) => editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, guideAgainst, share: share([1, 2], fraction) });
  for (const fraction of [0, 0.5, 1]) {
    const plain = await run('empty', fraction);
    const against = await run('source', fraction);
    assert.ok(maxAbsDiff(plain.z.data, against.z.data) > 1e-3, `τ ${fraction}`);
  }
  const defaulted = await editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([1, 2], 0.5) });
  assert.equal(maxAbsDiff(defaulted.z.data, (await run('empty', 0.5)).z.data), 0, 'plain guidance is the default');
});

test('the reconstruction path of edit equals reconstruct', async () => {
  const edited = await editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([2], 0.5), keepReconstruction: true });
  const rec = await reconstructLatent(tiny, inv.inversion);
  assert.equal(maxAbsDiff(edited.reconstruction!.data, rec.z.data), 0);
});

test('an empty layer set is rejected with a clear message', async () => {
  await assert.rejects(
    editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([], 0.5) }),
    /share layer set is empty: name at least one of the pack's context layers \(0, 1, 2\), or pass --share-steps 0/,
  );
  await assert.rejects(editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([5], 0.5) }), /Share layers 5 have no context ports/);
});

test('only the k/v the layer set needs are fetched, and only while sharing', async () => {
  const calls: { fetch: readonly number[]; context: number[]; batch: number }[] = [];
  const original = tiny.transformer.forward.bind(tiny.transformer);
  tiny.transformer.forward = async (req: ForwardRequest) => {
    calls.push({ fetch: req.fetchKV ?? [], context: [...(req.context?.keys() ?? [])], batch: req.latents.shape[0]! });
    return original(req);
  };
  try {
    await editLatent(tiny, inv.inversion, { targetPrompt: TGT, guidance: 2, share: share([2], 0.5) });
  } finally {
    tiny.transformer.forward = original;
  }
  // fireflow, 6 steps, 3 shared: both paths for steps 0-2 (4 calls each), then the edit path alone (4 calls).
  const fetching = calls.filter((c) => c.fetch.length > 0);
  const enriched = calls.filter((c) => c.context.length > 0);
  assert.equal(fetching.length, 4);
  assert.ok(fetching.every((c) => c.fetch.join() === '2' && c.batch === 1));
  assert.equal(enriched.length, 4);
  assert.ok(enriched.every((c) => c.context.join() === '2' && c.batch === 2), 'CFG edit path: conditional and unconditional branches');
  assert.equal(calls.length, 4 + 4 + 4);
});

test('invert then reconstruct: error falls as steps rise, and second order beats Euler', async () => {
  const source = await readImage(SAMPLE);
  const score = async (solver: 'euler' | 'midpoint' | 'fireflow', steps: number) => {
    const file = await invertImage(pixel, SAMPLE, { sourcePrompt: SRC, steps, solver, fit: 'pad' });
    const image = await reconstructImage(pixel, file);
    return psnr(image.data, source.data);
  };
  const e4 = await score('euler', 4);
  const e16 = await score('euler', 16);
  const m16 = await score('midpoint', 16);
  const f16 = await score('fireflow', 16);
  console.log(`pixel-space round trip PSNR: euler 4 ${e4.toFixed(1)} dB, euler 16 ${e16.toFixed(1)}, midpoint 16 ${m16.toFixed(1)}, fireflow 16 ${f16.toFixed(1)}`);
  assert.ok(e16 > e4);
  assert.ok(m16 > e16);
  assert.ok(f16 > e16);
});

test('editImage returns the source size for inputs that are not a multiple of the pack', async () => {
  const { writeFile } = await import('node:fs/promises');
  const { encodePng } = await import('../../src/media/image.js');
  const { tempDir } = await import('../paths.js');
  const odd = { width: 45, height: 30, data: new Float32Array(3 * 45 * 30).map((_, i) => Math.sin(i / 50)) };
  const path = `${await tempDir()}/odd.png`;
  await writeFile(path, await encodePng(odd));
  for (const fit of ['pad', 'resize'] as const) {
    const file = await invertImage(tiny, path, { sourcePrompt: SRC, steps: 2, solver: 'euler', fit });
    const out = await editImage(tiny, file, { targetPrompt: TGT, guidance: 2, share: share([1], 0.5) });
    assert.equal(out.image.width, 45);
    assert.equal(out.image.height, 30);
  }
});

test('an inversion from another pack is refused', async () => {
  await assert.rejects(reconstructImage(pixel, inv), /made with model 'tiny' but the pack is 'tiny-pixel'/);
});

test('an aborted signal stops between steps', async () => {
  const controller = new AbortController();
  let steps = 0;
  await assert.rejects(
    editLatent(
      tiny,
      inv.inversion,
      { targetPrompt: TGT, guidance: 2, share: share([1], 0.5) },
      {
        signal: controller.signal,
        onProgress: () => {
          steps += 1;
          if (steps === 2) controller.abort();
        },
      },
    ),
    { name: 'AbortError' },
  );
  assert.equal(steps, 2);
});
