/** --shard i/N: N runs of one manifest into one folder make every output once, as one run does. */
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inShard, parseShard } from '../../src/batch/shard.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';
import { flowedit } from '../cli/run.js';

test('parseShard reads i/N and refuses what is not a shard', () => {
  assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  assert.deepEqual(parseShard(' 1 / 1 '), { index: 1, count: 1 });
  for (const bad of ['0/3', '4/3', '3', '1/0', 'a/b', '-1/2', '1.5/3', '']) assert.throws(() => parseShard(bad), /Expected --shard i\/N/, bad);
  // positions 1..7 over 3 shards: each position in exactly one shard
  const shards = [1, 2, 3].map((index) => [1, 2, 3, 4, 5, 6, 7].filter((p) => inShard(p, { index, count: 3 })));
  assert.deepEqual(shards, [[1, 4, 7], [2, 5], [3, 6]]);
});

test('two shards run side by side into one folder make the outputs one batch makes, byte for byte', async () => {
  const dir = await tempDir('flowedit-shard-');
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  const lines = ['items:'];
  for (let i = 0; i < 5; i++) lines.push(`  - id: item${i}`, '    input: circle.png', '    sourcePrompt: a red circle on stripes', '    targets:', `      blue: a blue circle number ${i}`);
  const manifest = join(dir, 'batch.yaml');
  await writeFile(manifest, `${lines.join('\n')}\n`);
  const common = ['--model', TINY, '--steps', '2', '--seed', '7', '-q'];

  const whole = join(dir, 'whole');
  const split = join(dir, 'split');
  const [one, a, b] = await Promise.all([
    flowedit(['batch', manifest, '--out', whole, ...common]),
    flowedit(['batch', manifest, '--out', split, '--shard', '1/2', ...common]),
    flowedit(['batch', manifest, '--out', split, '--shard', '2/2', ...common]),
  ]);
  for (const r of [one, a, b]) assert.equal(r.code, 0, r.stderr);

  const pngs = async (d: string) => (await readdir(d)).filter((f) => f.endsWith('.png')).sort();
  assert.deepEqual(await pngs(split), await pngs(whole));
  assert.equal((await pngs(whole)).length, 5);
  for (const f of await pngs(whole)) assert.ok((await readFile(join(whole, f))).equals(await readFile(join(split, f))), f);

  const report = async (name: string) => JSON.parse(await readFile(join(split, name), 'utf8'));
  const [r1, r2] = [await report('batch-report-shard-1-of-2.json'), await report('batch-report-shard-2-of-2.json')];
  assert.deepEqual(r1.shard, { index: 1, count: 2 });
  assert.deepEqual(r1.items.map((i: { id: string }) => i.id), ['item0', 'item2', 'item4']);
  assert.deepEqual(r2.items.map((i: { id: string }) => i.id), ['item1', 'item3']);
  assert.deepEqual([r1.counts.done, r2.counts.done], [3, 2]);
  assert.ok(!(await readdir(split)).some((f) => f.endsWith('.lock') || f.includes('.tmp')), 'no lock or temporary file left');

  const bad = await flowedit(['batch', manifest, '--out', split, '--shard', '3/2', ...common]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /Expected --shard i\/N .* received "3\/2"/);
});
