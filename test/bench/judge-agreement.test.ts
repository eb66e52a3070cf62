/**
 * The strict judge in Python (python/flowedit_scenes/judge.py, a training run's in-run check) and
 * in Node (src/world/classify.ts, metrics.ts: the benchmark's) must read every frame alike: on
 * renders, noisy renders and renders with an object redrawn as a blob, at 128×128 and 64×64,
 * they find the same components, the same shape with the same IoU, and the same verdicts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readImage } from '../../src/media/image.js';
import { classifyShape, labelPixels, largestComponent } from '../../src/world/classify.js';
import { binary, checkCaption, checkObject } from '../../src/world/metrics.js';
import { loadWorld } from '../../src/world/world.js';
import { ROOT, tempDir } from '../paths.js';
import { pythonFindings } from '../python.js';

interface PyCase {
  file: string;
  truth: string;
  objects: [string, string][];
  background: string;
  target: [string, string];
  caption: { objects: boolean[]; coloured: boolean[]; background: boolean; full: boolean };
  object: { right: boolean; placed: boolean; iou: number };
  shapes: ({ shape: string; iou: number; area: number } | null)[];
}

test('the Python and Node strict judges agree on renders, noisy renders and blobs', async () => {
  const dir = await tempDir('flowedit-judge-');
  const { cases } = await pythonFindings<{ cases: PyCase[] }>('judge_agreement.py', ['--out', dir, '--count', '8']);
  const world = loadWorld(ROOT);
  let rightObjects = 0;
  let wrongObjects = 0;
  for (const c of cases) {
    const img = await readImage(join(dir, c.file));
    const labels = labelPixels(world, img);
    const objects = c.objects.map(([colour, shape]) => ({ colour, shape }));
    c.objects.forEach(([colour], k) => {
      const comp = largestComponent(labels, colour);
      const py = c.shapes[k];
      assert.equal(comp === null, py === null, `${c.file}: ${colour} found by one judge only`);
      if (!comp || !py) return;
      assert.equal(comp.area, py.area, `${c.file}: ${colour} component area`);
      const found = classifyShape(world, comp, img.width, img.height);
      assert.equal(found.shape, py.shape, `${c.file}: ${colour} classified`);
      assert.ok(Math.abs(found.iou - py.iou) < 1e-9, `${c.file}: ${colour} IoU ${found.iou} vs ${py.iou}`);
    });
    assert.deepEqual(checkCaption(world, labels, objects, c.background), c.caption, `${c.file}: caption verdict`);
    const truth = binary(await readImage(join(dir, c.truth)));
    const obj = checkObject(world, labels, truth, c.target[0], c.target[1]);
    assert.deepEqual({ right: obj.right, placed: obj.placed }, { right: c.object.right, placed: c.object.placed }, `${c.file}: object verdict`);
    assert.ok(Math.abs(obj.iou - c.object.iou) < 1e-9, `${c.file}: object IoU`);
    if (obj.right) rightObjects++;
    else wrongObjects++;
  }
  assert.equal(cases.length, 2 * 8 * 3);
  // both verdicts occur, so agreement is not agreement on a constant
  assert.ok(rightObjects > 0 && wrongObjects > 0, `right ${rightObjects}, wrong ${wrongObjects}`);
});
