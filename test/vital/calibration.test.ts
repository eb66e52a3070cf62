/**
 * Calibration sets: the committed built-in sets load; a folder of one's own stills and clips is
 * read through its listing, checked against a pack before anything loads (every problem at once,
 * naming its entry), and loaded as the analysis runs it (a clip's first window); a bad file or
 * folder is refused with what to fix.
 */
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import type { RgbImage } from '../../src/media/image.js';
import { readPack } from '../../src/model/pack.js';
import { builtinCalibration, readCalibration, taskCases } from '../../src/vital/calibration.js';
import { checkCases, loadCases } from '../../src/vital/calibration-media.js';
import { judgeCase } from '../../src/vital/judge.js';
import { readWorld } from '../../src/world/world.js';
import { ROOT, TINY, TINY_PIXEL, tempDir } from '../paths.js';

const OWN = join(ROOT, 'test/fixtures/calibration/own');
const EMPTY = { guideAgainst: 'empty' } as const;

test('the built-in calibration sets hold every task, and their ground truth judges itself right', async () => {
  const { manifest } = await readPack(TINY);
  for (const seed of [0, 1]) {
    const cal = await readCalibration(builtinCalibration(seed));
    assert.ok(cal.world, 'the set names the scene world');
    const world = readWorld(cal.world);
    for (const task of ['swap', 'recolor', 'insert', 'remove', 'text-edit'] as const) {
      const chosen = taskCases(cal, task);
      assert.equal(chosen.length, 16, `${task} cases of seed ${seed}`);
      for (const lc of await loadCases(cal, chosen.slice(0, 4), manifest, 'pad')) {
        const truth = judgeCase(lc, [lc.truth!], world);
        assert.equal(truth.right, true, `${lc.id}: the ground truth is right`);
        assert.ok(truth.psnrTruth! > 100, 'identical to the truth');
        const source = judgeCase(lc, lc.frames, world);
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
  const { manifest } = await readPack(TINY);
  const ok = { id: 'a', task: 'swap', image: 'a.png', mask: 'a.png', targetPrompt: 'a blue square' };
  const cases = async (c: unknown[]) => badFile({ format: 'flowedit.calibration', version: 1, cases: c });
  await assert.rejects(readCalibration('/nowhere/calibration.json'), /Cannot read calibration file .*not found/);
  await assert.rejects(readCalibration(await badFile('{')), /is not JSON/);
  await assert.rejects(readCalibration(await badFile({ cases: [] })), /not a calibration file: expected \{"format": "flowedit.calibration", "cases": \[...\]\} or a folder listing/);
  await assert.rejects(readCalibration(await cases([{ ...ok, task: 'paint' }])), /case 1: task "paint" is not one of swap, recolor, insert, remove, text-edit/);
  await assert.rejects(readCalibration(await cases([{ ...ok, image: 'b.png' }])), /case 1: b.png not found .*relative to the calibration file/);
  await assert.rejects(readCalibration(await cases([ok, ok])), /case 2: id "a" repeats/);
  await assert.rejects(readCalibration(await cases([{ ...ok, targetPrompt: '' }])), /targetPrompt: expected non-empty text/);
  const small = await cases([{ ...ok, mask: 'm.png' }]);
  await copyFile(join(ROOT, 'samples', 'blue-square-and-star.png'), join(dirname(small), 'm.png'));
  const cal = await readCalibration(small);
  await assert.rejects(loadCases(cal, taskCases(cal, 'swap'), manifest, 'pad'), /case a: the mask is 160×120 but the source is a 128×128 still; draw it at the image's size/);
  const one = await readCalibration(await cases([ok]));
  assert.throws(() => taskCases(one, 'insert'), /has no insert cases \(it has swap\); add some or choose another --task/);
});

test('a folder is read through its listing: entries without a task serve every task, paths relative to the folder', async () => {
  const cal = await readCalibration(OWN);
  assert.equal(cal.file, join(OWN, 'calibration.yaml'));
  assert.deepEqual(cal.cases.map((c) => c.id), ['vace-frame-00.png', 'vace-frame-20.png', 'diffueraser-12f.mp4']);
  assert.deepEqual(cal.cases.map((c) => c.mask), [join(OWN, 'vace-mask.png'), join(OWN, 'vace-mask.png'), join(OWN, 'diffueraser-mask.png')]);
  for (const task of ['swap', 'remove', 'text-edit'] as const) assert.equal(taskCases(cal, task).length, 3, task);
  assert.equal(taskCases(cal, 'swap', 2).length, 2, '--cases limits them');
  // a listing given by name is read alike; an entry with a task serves that task alone
  const dir = await tempDir();
  await cp(OWN, dir, { recursive: true });
  await writeFile(join(dir, 'mine.yaml'), 'entries:\n  - {input: vace-frame-00.png, task: recolor, targetPrompt: a red photo}\n  - {input: vace-frame-20.png, id: second, targetPrompt: a blue photo}\n');
  const named = await readCalibration(join(dir, 'mine.yaml'));
  assert.deepEqual(taskCases(named, 'recolor').map((c) => c.id), ['vace-frame-00.png', 'second']);
  assert.deepEqual(taskCases(named, 'swap').map((c) => c.id), ['second']);
  assert.equal(named.cases[0]!.sourcePrompt, '', 'the source prompt defaults to empty');
});

test('a folder listing\'s problems are reported together, one line each, naming the entry', async () => {
  const dir = await tempDir();
  const folder = join(dir, 'edits');
  await cp(OWN, folder, { recursive: true });
  await copyFile(join(OWN, 'vace-frame-00.png'), join(dir, 'outside.png'));
  await symlink(join(dir, 'outside.png'), join(folder, 'link.png'));
  const listing = [
    '  - {input: missing.png, mask: vace-mask.png, targetPrompt: a red photo}',
    '  - {input: ../outside.png, targetPrompt: a red photo}',
    `  - {input: ${join(OWN, 'vace-frame-00.png')}, targetPrompt: a red photo}`,
    '  - {input: link.png, targetPrompt: a red photo}',
    '  - {image: vace-frame-00.png, input: vace-frame-20.png, targetPrompt: a red photo}',
    '  - {input: vace-frame-00.png, task: paint, frames: 0, targetPrompt: a red photo}',
    '  - {input: vace-frame-00.png, id: twice, targetPrompt: ""}',
    '  - {input: vace-frame-20.png, id: twice, targetPrompt: a red photo}',
  ];
  await writeFile(join(folder, 'calibration.yaml'), `entries:\n${listing.join('\n')}\n`);
  const err = await readCalibration(folder).then(
    () => assert.fail('refused'),
    (e: Error) => e.message,
  );
  const lines = err.split('\n');
  assert.match(lines[0]!, /calibration\.yaml: 9 problems:$/);
  const expected = [
    /^entry 1 \(missing\.png\): input: missing\.png not found/,
    /^entry 2 \(\.\.\/outside\.png\): input: \.\.\/outside\.png is outside the calibration folder .*; copy the file into it$/,
    /^entry 3 \(\/.*vace-frame-00\.png\): input: \/.* is an absolute path; name files inside the calibration folder, relative to it$/,
    /^entry 4 \(link\.png\): input: link\.png links to .*outside\.png, outside the calibration folder/,
    /^entry 5 \(vace-frame-20\.png\): unknown field "image": a folder listing names its still or clip with "input"$/,
    /^entry 6 \(vace-frame-00\.png\): task "paint" is not one of swap, recolor, insert, remove, text-edit/,
    /^entry 6 \(vace-frame-00\.png\): frames: expected a positive integer/,
    /^entry 7 \(twice\): targetPrompt: expected non-empty text but received ""$/,
    /^entry 8 \(twice\): id "twice" is also entry 7's; give each entry its own id$/,
  ];
  const problems = lines.slice(1).map((l) => l.trim());
  for (const re of expected) assert.ok(problems.some((p) => re.test(p)), `${re} in\n${err}`);
  // one problem is one line
  await writeFile(join(folder, 'calibration.yaml'), 'entries:\n  - {input: vace-frame-00.png, targetPrompt: a red photo, notes: mine}\n');
  await assert.rejects(readCalibration(folder), (e: Error) => {
    assert.equal(e.message.split('\n').length, 1, e.message);
    return /calibration\.yaml: entry 1 \(vace-frame-00\.png\): unknown field "notes" \(an entry has id, task, input, mask, expected, frames, sourcePrompt, targetPrompt\)$/.test(e.message);
  });
});

test('a folder without a listing, or with two, is refused with what to do', async () => {
  const dir = await tempDir();
  await assert.rejects(readCalibration(dir), /Calibration folder .* holds no calibration\.json or calibration\.yaml: list its edits in one, e\.g\. entries: \[\{input: photo\.png/);
  await writeFile(join(dir, 'calibration.json'), '{"entries": []}');
  await assert.rejects(readCalibration(dir), /entries: expected a list of edits/);
  await writeFile(join(dir, 'calibration.yaml'), 'entries: []\n');
  await assert.rejects(readCalibration(dir), /holds calibration\.json and calibration\.yaml: keep one listing/);
});

test('the media are checked against the pack before anything loads, every problem naming its entry', async () => {
  const tiny = await readPack(TINY);
  const pixel = await readPack(TINY_PIXEL);
  const cal = await readCalibration(OWN);
  // the fixture folder passes on the pack that takes clips, for every task
  for (const task of ['swap', 'text-edit'] as const) await checkCases(cal, taskCases(cal, task), task, tiny, EMPTY);
  // a pack of stills refuses the clip
  await assert.rejects(checkCases(cal, cal.cases, 'swap', pixel, EMPTY), /entry diffueraser-12f\.mp4: the input is a clip, but pack 'tiny-pixel' takes stills only/);
  const dir = await tempDir();
  await cp(OWN, dir, { recursive: true });
  await mkdir(join(dir, 'sub'));
  await copyFile(join(ROOT, 'samples', 'blue-square-and-star.png'), join(dir, 'sub', 'big-mask.png'));
  const listing = [
    '  - {input: vace-frame-00.png, sourcePrompt: a photo, targetPrompt: a red photo}',
    '  - {input: vace-frame-20.png, mask: sub/big-mask.png, targetPrompt: a red photo}',
    '  - {input: vace-frame-20.png, id: long, mask: vace-mask.png, targetPrompt: a red photo on a plain background with stripes}',
    '  - {input: diffueraser-12f.mp4, mask: diffueraser-mask.png, frames: 10, expected: vace-frame-00.png, targetPrompt: a red photo}',
    '  - {input: vace-frame-00.png, id: still-frames, mask: vace-mask.png, frames: 2, targetPrompt: a red photo}',
  ];
  await writeFile(join(dir, 'calibration.yaml'), `entries:\n${listing.join('\n')}\n`);
  const mine = await readCalibration(dir);
  const err = await checkCases(mine, mine.cases, 'swap', tiny, { guideAgainst: 'source' }).then(
    () => assert.fail('refused'),
    (e: Error) => e.message,
  );
  for (const re of [
    /entry vace-frame-00\.png: no mask, but swap edits inside a mask: add mask: <file>/,
    /entry vace-frame-20\.png: the mask is 160×120 but the input is 64×96; draw it at the input's size/,
    /entry vace-frame-20\.png: sourcePrompt is empty, but swap on pack 'tiny' guides against the source prompt/,
    /entry long: the targetPrompt "a red photo on a plain background with stripes" has 9 tokens but this pack reads at most 8: shorten it/,
    /entry diffueraser-12f\.mp4: frames: 10, but pack 'tiny' takes at most 9 frames in one pass/,
    /entry diffueraser-12f\.mp4: expected is for stills/,
    /entry still-frames: frames is for clips/,
  ]) {
    assert.match(err, re);
  }
  // text-edit needs no mask
  await checkCases(mine, mine.cases.slice(0, 1), 'text-edit', tiny, EMPTY);
});

test('a clip is loaded as its first window (one pass of the pack), its mask with it; a still at its own size', async () => {
  const { manifest } = await readPack(TINY);
  const cal = await readCalibration(OWN);
  const warnings: string[] = [];
  const [still, , clip] = await loadCases(cal, cal.cases, manifest, 'pad', { onWarning: (m) => warnings.push(m) });
  assert.deepEqual([still!.frames.length, still!.frames[0]!.width, still!.frames[0]!.height, still!.clip], [1, 64, 96, null]);
  assert.deepEqual(clip!.clip, { used: 9, total: 12 }, 'tiny takes 9 frames in one pass');
  assert.equal(clip!.frames.length, 9);
  assert.deepEqual([clip!.frames[0]!.width, clip!.frames[0]!.height, clip!.region!.width, clip!.region!.height, clip!.region!.frames.length], [112, 64, 112, 64, 1]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /entry diffueraser-12f\.mp4: the clip has 12 frames; the analysis uses its first 9, one pass of pack 'tiny'/);
  // frames: N takes fewer, without a warning
  const five = { ...cal, cases: [{ ...cal.cases[2]!, firstFrames: 5 }] };
  const [short] = await loadCases(five, five.cases, manifest, 'pad', { onWarning: (m) => warnings.push(m) });
  assert.deepEqual([short!.frames.length, short!.clip], [5, { used: 5, total: 12 }]);
  assert.equal(warnings.length, 1);
  // a frame of the clip is the clip's own frame (decoded, not made up): equal to the first frames of the 5-frame load
  assert.deepEqual(short!.frames[4]!.data, clip!.frames[4]!.data);
});

test('a clip is judged over its frames: the background outside its mask, the change inside it', async () => {
  const { manifest } = await readPack(TINY);
  const cal = await readCalibration(OWN);
  const [clip] = await loadCases(cal, [cal.cases[2]!], manifest, 'pad');
  const same = judgeCase(clip!, clip!.frames, null);
  assert.ok(same.psnrBackground > 100 && same.psnrInside! > 100, 'the source is itself');
  assert.deepEqual([same.right, same.placed, same.psnrTruth], [null, null, null], 'no answers, no verdict');
  // paint the mask's pixels of one frame black: the inside changes, the background does not
  const region = clip!.region!.frames[0]!;
  const painted: RgbImage[] = clip!.frames.map((f, i) => {
    if (i !== 3) return f;
    const data = Float32Array.from(f.data);
    const n = f.width * f.height;
    for (let p = 0; p < n; p++) if (region[p]! >= 0.5) for (let c = 0; c < 3; c++) data[c * n + p] = -1;
    return { ...f, data };
  });
  const edited = judgeCase(clip!, painted, null);
  assert.ok(edited.psnrBackground > 100, `background ${edited.psnrBackground}`);
  assert.ok(edited.psnrInside! < 40, `inside ${edited.psnrInside}`);
  assert.throws(() => judgeCase(clip!, painted.slice(0, 4), null), /expected 9 output frame\(s\) but received 4/);
});
