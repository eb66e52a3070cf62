import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ditFlops, graphWidths, type CallShape } from '../../src/model/flops.js';
import { readPack } from '../../src/model/pack.js';
import { port } from '../../src/model/ports.js';
import { TINY, TINY_PIXEL } from '../paths.js';
import { pythonFindings } from '../python.js';

/** Input shapes of one transformer call: batch B, latent [C, F, H, W], context keys per layer. */
function feeds(m: Awaited<ReturnType<typeof readPack>>['manifest'], B: number, latent: number[], S: number, ctx: Map<number, number>): Record<string, number[]> {
  const { heads: h, headDim: d } = m.transformer;
  const out: Record<string, number[]> = { [port.latents]: [B, ...latent], [port.t]: [B], [port.text]: [B, m.text!.maxTokens!, m.text!.dim!] };
  if (m.transformer.guidance === 'distilled') out[port.guidance] = [B];
  for (const i of m.transformer.contextLayers) {
    const Sc = ctx.get(i) ?? 0;
    out[port.ctxK(i)] = [B, h, Sc, d];
    out[port.ctxV(i)] = [B, h, Sc, d];
    out[port.ctxBias(i)] = [B, S + Sc];
  }
  return out;
}

for (const [name, dir, latent, ctx] of [
  ['tiny (joint text, CFG)', TINY, [4, 2, 16, 12], new Map([[0, 40], [2, 7]])],
  ['tiny-pixel (cross text, distilled guidance)', TINY_PIXEL, [3, 1, 32, 24], new Map([[1, 12]])],
] as const) {
  test(`the FLOP formula equals a count of the matmuls the graph runs: ${name}`, async () => {
    const pack = await readPack(dir);
    const m = pack.manifest;
    const [pt, ph, pw] = m.transformer.patchSize;
    const n = (latent[1]! / pt) * (latent[2]! / ph) * (latent[3]! / pw);
    const L = m.transformer.text === 'joint' ? m.text!.maxTokens! : 0;
    const B = 2;
    const shape: CallShape = { batch: B, imageTokens: n, textTokens: L, context: ctx };
    const widths = graphWidths(await readFile(join(dir, m.transformer.file)), m);
    const counted = await pythonFindings<{ flops: number; matmuls: number }>('count_flops.py', [join(dir, m.transformer.file), JSON.stringify(feeds(m, B, [...latent], L + n, ctx))]);
    assert.ok(counted.matmuls > 10, `only ${counted.matmuls} matmuls in the graph`);
    assert.equal(ditFlops(m, shape, widths), counted.flops);
    // the context keys count: without them the formula gives less
    assert.ok(ditFlops(m, { ...shape, context: new Map() }, widths) < counted.flops);
  });
}

test('the MLP and timestep widths are read from the graph', async () => {
  const m = (await readPack(TINY)).manifest;
  const widths = graphWidths(await readFile(join(TINY, m.transformer.file)), m);
  assert.deepEqual(widths, { mlp: 64, freq: 64 }); // the fixture's recipe: mlp_ratio 2 × width 32, freq_dim 64 (python/flowedit_model/config.py)
});
