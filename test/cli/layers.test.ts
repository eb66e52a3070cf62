/** flowedit layers, run as a user runs it, on the fixture pack and on the built-in pack. */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { builtinCalibration } from '../../src/vital/calibration.js';
import { builtinPackDir } from '../../src/model/builtin.js';
import { readPack } from '../../src/model/pack.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

interface Report {
  scores: { layers: number[]; mean: number[]; ranking: number[]; perCase: number[][] }[];
  rankCorrelation: number[];
  trials: { name: string; layers: number[]; fraction: number; right: number | null; psnrTruth: number | null; psnrBackground: number }[];
  sweep: { k: number; fraction: number }[];
  chosen: { shareLayers: number[]; shareSteps: number };
}

/**
 * A calibration file of the first two built-in insert cases with prompts short enough for the
 * fixture pack (8 tokens): the inserted object alone.
 */
async function shortInsertCalibration(dir: string): Promise<string> {
  const file = builtinCalibration(0);
  const doc = JSON.parse(await readFile(file, 'utf8')) as { world: string; cases: Record<string, unknown>[] };
  const abs = (p: unknown) => join(dirname(file), p as string);
  const cases = doc.cases.filter((c) => c.task === 'insert').slice(0, 2).map((c) => {
    const k = c.check as { colour: string; shape: string; mask: string };
    return { ...c, image: abs(c.image), mask: abs(c.mask), expected: abs(c.expected), sourcePrompt: 'shapes on a background', targetPrompt: `a ${k.colour} ${k.shape}`, check: { ...k, mask: abs(k.mask) } };
  });
  const out = join(dir, 'calibration.json');
  await writeFile(out, JSON.stringify({ format: 'flowedit.calibration', version: 1, world: abs(doc.world), cases }));
  return out;
}

test('on the fixture pack: ranks its three layers, sweeps k and τ, and writes the best into the manifest', { timeout: 600_000 }, async () => {
  const dir = await tempDir();
  const pack = join(dir, 'tiny');
  await cp(TINY, pack, { recursive: true });
  const json = join(dir, 'layers.json');
  const r = await flowedit(['layers', '--model', pack, '--task', 'insert', '--calibration', await shortInsertCalibration(dir), '--sweep', '--write', '--json', json, '--threads', '1', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Guidance responsiveness of tiny's layers for insert \(2 edits/);
  assert.match(r.stdout, /top 2 .*\n.*all layers .*\n.*no sharing/);
  const report = JSON.parse(await readFile(json, 'utf8')) as Report;
  assert.deepEqual([...report.scores[0]!.ranking].sort(), [0, 1, 2]);
  assert.equal(report.scores[0]!.perCase.length, 2);
  assert.deepEqual(report.sweep.map((t) => `${t.k}:${t.fraction}`), ['1:0.2', '1:0.5', '1:1', '2:0.2', '2:0.5', '2:1', '3:0.2', '3:0.5', '3:1']);
  for (const t of report.trials) assert.ok(t.right !== null && t.psnrTruth !== null && Number.isFinite(t.psnrBackground), t.name);
  const written = (await readPack(pack)).manifest.defaults?.tasks?.insert;
  assert.deepEqual(written, report.chosen);
  assert.match(r.stdout, /wrote defaults\.tasks\.insert: shareLayers/);
});

test('on the built-in pack: two calibration seeds ranked and compared, the top set scored against the ground truth', { timeout: 600_000 }, async () => {
  const dir = await tempDir();
  const json = join(dir, 'layers.json');
  const r = await flowedit(['layers', '--task', 'remove', '--cases', '3', '--top-k', '3', '--json', json, '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rank correlation \(Spearman ρ\) of seed 0 and seed 1: -?[01]\.\d{3}/);
  const report = JSON.parse(await readFile(json, 'utf8')) as Report;
  assert.equal(report.scores.length, 2);
  assert.equal(report.scores[0]!.layers.length, 8);
  assert.equal(report.rankCorrelation.length, 1);
  // the pack's measured remove layers (all eight) differ from the top 3, so they run too
  const measured = (await readPack(builtinPackDir())).manifest.defaults?.tasks?.remove?.shareLayers;
  assert.deepEqual(report.trials.map((t) => t.name), ['top 3', 'all layers', 'no sharing', 'pack default']);
  assert.deepEqual(report.trials[3]!.layers, measured);
  assert.equal(report.trials[0]!.layers.length, 3);
  assert.deepEqual(report.trials[2]!.fraction, 0);
  for (const t of report.trials) assert.ok(t.right !== null && t.right >= 0 && t.right <= 1, t.name);
});

test('bad requests fail before the model loads, with what to do', async () => {
  assertCleanFailure(await flowedit(['layers', '--task', 'paint']), /Invalid values:[\s\S]*task[\s\S]*paint/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--top-k', '9']), /integer from 1 to 8 \(the pack's shareable layers\) for --top-k but received 9/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--calibration', '/nowhere/c.json']), /Cannot read calibration file \/nowhere\/c\.json: not found/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--cases', '0']), /Expected an integer from 1 to 100000 for --cases but received 0/);
  assertCleanFailure(await flowedit(['layers', '--task', 'swap', '--share-steps', '2']), /\[0, 1\] for --share-steps but received 2/);
  assertCleanFailure(await flowedit(['layers', '--model', TINY, '--task', 'swap', '--calibration', builtinCalibration(0)]), /source prompt of swap-000 .* has \d+ tokens but this pack reads at most 8/);
});

test('swap --task picks that task\'s pack defaults over the swap\'s; an unknown task is refused', async () => {
  const dir = await tempDir();
  const pack = join(dir, 'tiny');
  await cp(TINY, pack, { recursive: true });
  const manifest = JSON.parse(await readFile(join(pack, 'manifest.json'), 'utf8'));
  manifest.defaults.tasks = { swap: { guidance: 5, shareLayers: [0], shareSteps: 0.25 }, remove: { shareLayers: [2], shareSteps: 0.75 } };
  await writeFile(join(pack, 'manifest.json'), JSON.stringify(manifest));
  const config = async (task: string) => {
    const r = await flowedit(['swap', SAMPLE, '--model', pack, '--mask', SAMPLE, '--task', task, '--target-prompt', 'stripes', '-o', join(dir, 'o.png'), '--print-config']);
    assert.equal(r.code, 0, r.stderr);
    const s = (JSON.parse(r.stdout) as { settings: { guidance: number; shareLayers: number[]; shareSteps: number } }).settings;
    return [s.guidance, s.shareLayers, s.shareSteps];
  };
  assert.deepEqual(await config('swap'), [5, [0], 0.25]);
  assert.deepEqual(await config('remove'), [5, [2], 0.75]);
  assert.deepEqual(await config('insert'), [5, [0], 0.25], 'no insert defaults: the swap\'s');
  assertCleanFailure(await flowedit(['swap', SAMPLE, '--mask', SAMPLE, '--task', 'paint', '--target-prompt', 'x', '-o', join(dir, 'o.png')]), /Invalid values:[\s\S]*task/);
});
