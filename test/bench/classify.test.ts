/**
 * The benchmark's measurements must read the renderer's own output correctly: on the
 * ground-truth renders of every held-out scene, every caption checks out and every edited
 * object is found right, and a wrong caption is caught; the object area's fill tells a drawn
 * object from one left in its old colour and from one dropped into the background.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelPixels } from '../../src/world/classify.js';
import { heldoutDir, loadCase, readIndex } from '../../bench/eval/dataset.js';
import { areaFill, binary, centroid, checkCaption, checkObject } from '../../src/world/metrics.js';
import { loadWorld } from '../../src/world/world.js';
import { ROOT } from '../paths.js';

const world = loadWorld(ROOT);
const HELDOUT = heldoutDir(ROOT);
const cases = readIndex(HELDOUT);

test('the held-out set has at least 50 stills and 16 clips of 17 frames', () => {
  assert.ok(cases.filter((c) => c.kind === 'still').length >= 50);
  const clips = cases.filter((c) => c.kind === 'clip');
  assert.ok(clips.length >= 16);
  assert.ok(clips.every((c) => c.frames === 17));
});

test('ground-truth renders match their captions and their edited objects, frame by frame', async () => {
  let frames = 0;
  for (const c of cases) {
    const lc = await loadCase(HELDOUT, c);
    for (let f = 0; f < c.frames; f++) {
      const src = labelPixels(world, lc.source[f]!);
      const check = checkCaption(world, src, c.objects, c.background);
      assert.ok(check.full, `${c.id} frame ${f}: ${JSON.stringify(check)} for "${c.caption}"`);
      assert.ok(check.coloured.every(Boolean), `${c.id} frame ${f}: every caption object is found in its colour`);
      const truth = labelPixels(world, lc.truth[f]!);
      const obj = checkObject(world, truth, binary(lc.truthMask[f]!), c.target.colour, c.target.shape);
      assert.ok(obj.right && obj.placed, `${c.id} frame ${f}: target ${c.target.colour} ${c.target.shape} read as ${JSON.stringify(obj)}`);
      const [tx, ty] = centroid(binary(lc.truthMask[f]!), c.size[0])!;
      assert.ok(Math.hypot(obj.centre![0] - tx, obj.centre![1] - ty) < 1, `${c.id} frame ${f}: centre ${obj.centre} vs ${tx},${ty}`);
      frames++;
    }
  }
  assert.ok(frames >= 50 + 16 * 17);
});

test('a source render fails the target caption when the edit changed the object', async () => {
  let caught = 0;
  const stills = cases.filter((c) => c.kind === 'still');
  for (const c of stills) {
    const lc = await loadCase(HELDOUT, c);
    const labels = labelPixels(world, lc.source[0]!);
    const target = c.objects.map((o, i) => (i === c.edit.object ? { colour: c.target.colour, shape: c.target.shape } : o));
    if (!checkCaption(world, labels, target, c.background).full) caught++;
    const obj = checkObject(world, labels, binary(lc.truthMask[0]!), c.target.colour, c.target.shape);
    assert.equal(obj.right, false, `${c.id}: the unedited source must not pass as the edit`);
    // a recolour's new colour is nowhere on the old object
    if (c.edit.kind === 'colour') assert.equal(obj.placed, false, `${c.id}: recolour, target colour found in place`);
  }
  assert.equal(caught, stills.length);
});

test('the object area reads as the target colour on the truth, another colour on a recolour\'s source, background once painted over', async () => {
  const stills = cases.filter((c) => c.kind === 'still');
  let recolours = 0;
  for (const c of stills) {
    const lc = await loadCase(HELDOUT, c);
    const truth = binary(lc.truthMask[0]!);
    const drawn = areaFill([{ labels: labelPixels(world, lc.truth[0]!), truth }], c.target.colour, c.background);
    assert.ok(drawn.target > 0.8, `${c.id}: the ground truth fills its object area with the target colour (${JSON.stringify(drawn)})`);
    assert.ok(Math.abs(drawn.target + drawn.background + drawn.other - 1) < 1e-9);
    if (c.edit.kind === 'colour') {
      const old = areaFill([{ labels: labelPixels(world, lc.source[0]!), truth }], c.target.colour, c.background);
      assert.ok(old.other > 0.5 && old.background < 0.5, `${c.id}: the source keeps the old colour there (${JSON.stringify(old)})`);
      recolours++;
    }
    // paint the object area with the background colour, as an edit that drops the object would
    const [w, h] = c.size;
    const rgb = world.colours.get(c.background)!;
    const painted = { ...lc.truth[0]!, data: Float32Array.from(lc.truth[0]!.data) };
    truth.forEach((v, i) => {
      if (v) for (let k = 0; k < 3; k++) painted.data[k * w * h + i] = (rgb[k]! / 255) * 2 - 1;
    });
    const gone = areaFill([{ labels: labelPixels(world, painted), truth }], c.target.colour, c.background);
    assert.ok(gone.background > 0.99, `${c.id}: painted over, the area reads as background (${JSON.stringify(gone)})`);
  }
  assert.ok(recolours > 10);
});
