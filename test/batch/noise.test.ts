/** The seeded noise generator: reproducible, seed-sensitive, standard normal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gaussianNoise } from '../../src/edit/latent/noise.js';
import { itemSeed } from '../../src/batch/seeds.js';

test('the same seed gives the same noise; another seed does not', () => {
  assert.deepEqual(gaussianNoise(1001, 7), gaussianNoise(1001, 7));
  assert.notDeepEqual(gaussianNoise(16, 7), gaussianNoise(16, 8));
  assert.notDeepEqual(gaussianNoise(16, 1), gaussianNoise(16, 2 ** 32 + 1), 'high seed bits count');
  assert.throws(() => gaussianNoise(4, -1), /Expected a non-negative integer seed but received -1/);
});

test('the noise is standard normal (mean ≈ 0, variance ≈ 1, no long runs of repeats)', () => {
  const x = gaussianNoise(200_000, 42);
  let sum = 0;
  let sq = 0;
  for (const v of x) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / x.length;
  const variance = sq / x.length - mean * mean;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
  const within1 = x.filter((v) => Math.abs(v) < 1).length / x.length;
  assert.ok(Math.abs(within1 - 0.6827) < 0.01, `P(|x|<1) = ${within1}`);
});

test('item seeds derive from the batch seed and the item id', () => {
  assert.equal(itemSeed(0, 'circle'), itemSeed(0, 'circle'));
  assert.notEqual(itemSeed(0, 'circle'), itemSeed(1, 'circle'));
  assert.notEqual(itemSeed(0, 'circle'), itemSeed(0, 'square'));
  assert.ok(Number.isInteger(itemSeed(5, 'x')) && itemSeed(5, 'x') >= 0 && itemSeed(5, 'x') < 2 ** 31);
});
