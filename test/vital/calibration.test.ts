/** Calibration files: the committed built-in sets load; a bad file is refused with what to fix. */
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { builtinCalibration, loadTaskCases, readCalibration } from '../../src/vital/calibration.js';
import { judgeCase } from '../../src/vital/judge.js';
import { readWorld } from '../../src/world/world.js';
import { ROOT, tempDir } from '../paths.js';

test('the built-in calibration sets hold every task, and their ground truth judges itself right', async () => {
  for (const seed of [0, 1]) {
    const cal = await readCalibration(builtinCalibration(seed));
    assert.ok(cal.world, 'the set names the scene world');
    const world = readWorld(cal.world);
    for (const task of ['swap', 'recolor', 'insert', 'remove', 'text-edit'] as const) {
      const cases = await loadTaskCases(cal, task);
      assert.equal(cases.length, 16, `${task} cases of seed ${seed}`);
      for (const lc of cases.slice(0, 4)) {
        const truth = judgeCase(lc, lc.truth!, world);
        assert.equal(truth.right, true, `${lc.id}: the ground truth is right`);
        assert.ok(truth.psnrTruth! > 100, 'identical to the truth');
        const source = judgeCase(lc, lc.source, world);
        assert.ok(source.psnrBackground > 100, `${lc.id}: the source keeps its own background`);
        if (task !== 'remove') assert.equal(source.right, false, `${lc.id}: the unedited source is not the answer`);
      }
    }
  }
});

async function badFile(doc: unknown): Promise<string> {
  const dir = await tempDir();
  await copyFile(join(builtinCalibration(0), '..', 'swap-000.png'), join(dir, 'a.png'));
  const file = join(dir, 'calibration.json');
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}

test('a bad calibration file is refused with what to fix', async () => {
  const ok = { id: 'a', task: 'swap', image: 'a.png', mask: 'a.png', targetPrompt: 'a blue square' };
  const cases = async (c: unknown[]) => badFile({ format: 'flowedit.calibration', version: 1, cases: c });
  await assert.rejects(readCalibration('/nowhere/calibration.json'), /Cannot read calibration file .*not found/);
  await assert.rejects(readCalibration(await badFile('{')), /is not JSON/);
  await assert.rejects(readCalibration(await badFile({ cases: [] })), /not a calibration file: expected \{"format": "flowedit.calibration"/);
  await assert.rejects(readCalibration(await cases([{ ...ok, task: 'paint' }])), /case 1: task "paint" is not one of swap, recolor, insert, remove, text-edit/);
  await assert.rejects(readCalibration(await cases([{ ...ok, image: 'b.png' }])), /case 1: b.png not found .*relative to the calibration file/);
  await assert.rejects(readCalibration(await cases([ok, ok])), /case 2: id "a" repeats/);
  await assert.rejects(readCalibration(await cases([{ ...ok, targetPrompt: '' }])), /targetPrompt: expected non-empty text/);
  const small = await cases([{ ...ok, mask: 'm.png' }]);
  await copyFile(join(ROOT, 'samples', 'blue-square-and-star.png'), join(dirname(small), 'm.png'));
  await assert.rejects(loadTaskCases(await readCalibration(small), 'swap'), /case a: the mask is 160×120 but the source is a 128×128 still; draw it at the image's size/);
  const one = await readCalibration(await cases([ok]));
  await assert.rejects(loadTaskCases(one, 'insert'), /has no insert cases \(it has swap\); add some or choose another --task/);
});
