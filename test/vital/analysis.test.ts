/**
 * The vital-layer analysis on real ONNX sessions: the fixture pack's layer responsiveness, the
 * probes, the ranking and its correlation, and the task defaults it writes.
 */
import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { invertFrames } from '../../src/edit/frames/pipeline.js';
import { appliedTaskDefaults, resolveSettings } from '../../src/edit/frames/settings.js';
import { readImage } from '../../src/media/image.js';
import { loadPack, readPack, type LoadedPack } from '../../src/model/pack.js';
import { writeTaskSharing } from '../../src/model/task-defaults.js';
import { rankLayers, spearman, topLayers } from '../../src/vital/analysis.js';
import { caseResponsiveness, probeSteps, type ProbeCase } from '../../src/vital/responsiveness.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';

let tiny: LoadedPack;
let inversion: ProbeCase['inversion'];
before(async () => {
  tiny = await loadPack(TINY, { threads: 1 });
  const ci = await invertFrames(tiny, [await readImage(SAMPLE)], { sourcePrompt: 'a red circle on stripes', steps: 8, solver: 'fireflow', fit: 'pad' });
  inversion = ci.inversions[0]!;
});
after(async () => {
  await tiny.release();
});

const probe = (o: Partial<ProbeCase> = {}): ProbeCase => ({
  inversion,
  sourcePrompt: 'a red circle on stripes',
  targetPrompt: 'a blue square on stripes',
  guidance: 2,
  guideAgainst: 'empty',
  region: null,
  maskBias: 0,
  ...o,
});

test('each context layer gets a finite responsiveness, and different layers move the edit differently', async () => {
  const r = await caseResponsiveness(tiny, probe(), tiny.transformer.contextLayers, [0, 2]);
  assert.equal(r.scores.length, 3);
  for (const s of r.scores) assert.ok(Number.isFinite(s) && s > 0, `R ${s}`);
  assert.ok(new Set(r.scores.map((s) => s.toFixed(6))).size > 1, `scores ${r.scores.join(', ')}`);
  assert.equal(r.calls, 2 * (2 + 3), 'per probe: reconstruction, edit alone, one edit per layer');
});

test('a mask bias that removes every shared key leaves the edit where it was: responsiveness 0', async () => {
  const plane = inversion.latentShape.slice(2).reduce((a, b) => a * b, 1);
  const r = await caseResponsiveness(tiny, probe({ region: new Float32Array(plane).fill(1), maskBias: -1e4 }), tiny.transformer.contextLayers, [0]);
  for (const s of r.scores) assert.ok(s < 1e-4, `R ${s}`);
  const open = await caseResponsiveness(tiny, probe({ region: new Float32Array(plane).fill(1), maskBias: 0 }), tiny.transformer.contextLayers, [0]);
  assert.ok(Math.max(...open.scores) > 1e-3, 'without the bias the shared keys move it');
});

test('probe steps spread over the sharing range', () => {
  assert.deepEqual(probeSteps(20, 0.2, 4), [0, 1, 2, 3]);
  assert.deepEqual(probeSteps(20, 0.5, 4), [0, 2, 5, 7]);
  assert.deepEqual(probeSteps(20, 0, 4), [0]);
  assert.deepEqual(probeSteps(3, 1, 4), [0, 1, 2]);
});

test('ranking, top-k and Spearman rank correlation', () => {
  assert.deepEqual(rankLayers([0, 1, 2, 3], [0.1, 0.4, 0.4, 0.2]), [1, 2, 3, 0]);
  assert.deepEqual(topLayers([5, 1, 7, 0], 2), [1, 5]);
  assert.deepEqual(topLayers([5, 1, 7, 0], 0), [5], 'at least one layer');
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // ranks [4,3,2,1] against [3.5,3.5,1.5,1.5] (ties share the mean rank): ρ = 0.894
  assert.ok(Math.abs(spearman([4, 3, 2, 1], [2, 2, 1, 1]) - 0.8944) < 1e-4);
  assert.throws(() => spearman([1], [1]), /at least 2/);
});

test('masked tasks fall back to the swap defaults; an automatic-mask edit takes the swap\'s, then its own (auto-edit)', async () => {
  const m = (await readPack(TINY)).manifest;
  const tasks = { swap: { guidance: 7, shareSteps: 0.2, maskBias: -10 }, insert: { shareLayers: [0], shareSteps: 0.5 }, edit: { guidance: 2, shareSteps: 1, autoMask: 0.5 } };
  const withTasks = { ...m, defaults: { ...m.defaults, tasks } };
  const insert = resolveSettings(withTasks, 'insert', {});
  assert.deepEqual([insert.guidance, insert.shareLayers, insert.shareSteps, insert.maskBias], [7, [0], 0.5, -10]);
  const recolor = resolveSettings(withTasks, 'recolor', {});
  assert.deepEqual([recolor.guidance, recolor.shareLayers, recolor.shareSteps], [7, [1, 2], 0.2], 'swap, then the pack-wide layers');
  assert.deepEqual(appliedTaskDefaults(withTasks, 'edit', 0.5), tasks.swap, 'no auto-edit defaults: the swap\'s');
  const measured = { ...withTasks, defaults: { ...withTasks.defaults, tasks: { ...tasks, 'auto-edit': { shareLayers: [2], shareSteps: 0.4 } } } };
  const edit = resolveSettings(measured, 'edit', {});
  assert.deepEqual([edit.guidance, edit.shareLayers, edit.shareSteps, edit.maskBias], [7, [2], 0.4, -10]);
  const plain = resolveSettings(measured, 'edit', { autoMask: 0 });
  assert.deepEqual([plain.guidance, plain.shareLayers, plain.shareSteps], [2, [1, 2], 1], 'the plain edit keeps its own');
});

test('writing a task default keeps the rest of the manifest and refuses layers the pack does not have', async () => {
  const dir = await tempDir();
  await cp(TINY, dir, { recursive: true });
  const file = join(dir, 'manifest.json');
  const before = JSON.parse(await readFile(file, 'utf8'));
  await writeTaskSharing(dir, 'insert', { shareLayers: [0, 2], shareSteps: 0.25 });
  const after = JSON.parse(await readFile(file, 'utf8'));
  assert.deepEqual(after.defaults.tasks.insert, { shareLayers: [0, 2], shareSteps: 0.25 });
  assert.deepEqual({ ...after, defaults: { ...after.defaults, tasks: undefined } }, { ...before, defaults: { ...before.defaults, tasks: undefined } });
  assert.equal((await readPack(dir)).manifest.defaults?.tasks?.insert?.shareSteps, 0.25);
  const text = await readFile(file, 'utf8');
  await assert.rejects(writeTaskSharing(dir, 'insert', { shareLayers: [7], shareSteps: 0.5 }), /shareLayers/);
  assert.equal(await readFile(file, 'utf8'), text, 'a refused write leaves the file as it was');
});
