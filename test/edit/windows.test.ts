/** Clip windows against pack frame rules, the cross-fade, and clip inversion files. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeInversion, encodeInversion, inversionsOf, type InversionHeader } from '../../src/edit/frames/inversion-file.js';
import { allowedFrameCounts, checkOverlap, checkWindow, crossFade, planWindows, windowFrames, windowWeight } from '../../src/edit/frames/windows.js';

const pack = (max: number, step: number, r = 1) => ({ frames: { max, step }, latent: { channels: 4, spatialCompression: 4, temporalCompression: r, scale: 1, shift: 0 } });

test('allowed frame counts follow 1 + step·k up to max and suit the temporal compression', () => {
  assert.deepEqual(allowedFrameCounts(pack(9, 1)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(allowedFrameCounts(pack(81, 4, 4)).slice(0, 4), [1, 5, 9, 13]);
  assert.deepEqual(allowedFrameCounts(pack(10, 2, 4)), [1, 5, 9]);
  assert.deepEqual(allowedFrameCounts({ latent: pack(1, 1).latent }), [1]);
});

test('a short clip is one padded window; a long one overlapping windows covering every frame', () => {
  assert.deepEqual(planWindows(6, pack(17, 4, 4)), [{ start: 0, length: 6, padded: 9 }]);
  assert.deepEqual(planWindows(17, pack(9, 1)).map((w) => w.start), [0, 4, 8]);
  for (const [frames, max, step, r] of [[70, 9, 1, 1], [100, 33, 4, 4], [10, 9, 1, 1]] as const) {
    const ws = planWindows(frames, pack(max, step, r));
    assert.equal(ws[0]!.start, 0);
    assert.equal(ws[ws.length - 1]!.start + ws[ws.length - 1]!.length, frames);
    for (let i = 1; i < ws.length; i++) assert.ok(ws[i]!.start < ws[i - 1]!.start + ws[i - 1]!.length, 'windows overlap');
    assert.ok(ws.every((w) => allowedFrameCounts(pack(max, step, r)).includes(w.padded)));
  }
  assert.equal(planWindows(5, { latent: pack(1, 1).latent }).length, 5, 'a stills-only pack goes frame by frame');
  assert.deepEqual(windowFrames(['a', 'b', 'c'], { start: 1, length: 2, padded: 4 }), ['b', 'c', 'c', 'c']);
});

test('--window caps a pass at an allowed count: more, shorter windows over the same frames; other counts are refused', () => {
  const wan = pack(81, 4, 4);
  assert.deepEqual(planWindows(17, wan), [{ start: 0, length: 17, padded: 17 }]);
  const ws = planWindows(17, wan, undefined, 9);
  assert.ok(ws.length >= 2 && ws.every((w) => w.padded === 9 && w.length === 9), JSON.stringify(ws));
  assert.deepEqual([ws[0]!.start, ws[ws.length - 1]!.start + 9], [0, 17]);
  assert.deepEqual(planWindows(7, wan, undefined, 9), [{ start: 0, length: 7, padded: 9 }], 'a clip that fits the window is one pass');
  assert.throws(() => checkWindow(8, wan), /--window 8: one pass of this pack takes 1, 5, 9, 13, 17, 21, …, 81 frames/);
  assert.throws(() => planWindows(17, wan, undefined, 85), /--window 85/);
  assert.doesNotThrow(() => checkWindow(undefined, wan));
});

test('the cross-fade is linear across an overlap and keeps a constant signal constant', () => {
  const ws = [{ start: 0, length: 6, padded: 6 }, { start: 3, length: 6, padded: 6 }];
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((f) => windowWeight(ws, 0, f)), [1, 1, 1, 0.75, 0.5, 0.25]);
  assert.deepEqual([3, 4, 5, 6].map((f) => windowWeight(ws, 1, f)), [0.25, 0.5, 0.75, 1]);
  const frame = (v: number) => ({ width: 1, height: 1, data: Float32Array.from([v, v, v]) });
  const out = crossFade(ws, [Array.from({ length: 6 }, () => frame(0)), Array.from({ length: 6 }, () => frame(1))], 9);
  assert.deepEqual(out.map((f) => f.data[0]), [0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1]);
  const same = crossFade(ws, [Array.from({ length: 6 }, () => frame(0.5)), Array.from({ length: 6 }, () => frame(0.5))], 9);
  assert.ok(same.every((f) => Math.abs(f.data[0]! - 0.5) < 1e-7));
});

test('a clip inversion file stores every window\'s trajectory and reads them back', () => {
  const latentShape = [1, 1, 2, 1, 2];
  const header: InversionHeader = {
    format: 'flowedit.inversion',
    version: 1,
    flowedit: '0.0.0',
    modelId: 'tiny',
    settings: { sourcePrompt: 'a', steps: 1, solver: 'euler' },
    ts: [1, 0],
    latentShape,
    source: { path: 'clip.mp4', sha256: '0'.repeat(64), width: 8, height: 8 },
    fit: { mode: 'pad', sourceWidth: 8, sourceHeight: 8, workWidth: 8, workHeight: 8, contentWidth: 8, contentHeight: 8 },
    calls: 2,
    clip: { frames: 3, rate: { num: 25, den: 1 }, windows: [{ start: 0, length: 2, padded: 2 }, { start: 1, length: 2, padded: 2 }] },
  };
  const trajectory = [0, 1, 2, 3].map((i) => new Float32Array(4).fill(i));
  const file = decodeInversion(encodeInversion(header, trajectory));
  const windows = inversionsOf(file);
  assert.equal(windows.length, 2);
  assert.deepEqual(windows.map((w) => w.trajectory.map((x) => x[0])), [[0, 1], [2, 3]]);
  assert.deepEqual(file.header.clip?.rate, { num: 25, den: 1 });
  assert.throws(() => encodeInversion(header, trajectory.slice(0, 2)), /Trajectory must hold 4 latents/);
});

test('the overlap must be a non-negative integer, whether or not the clip needs several windows', () => {
  const m = pack(9, 1, 4);
  for (const frames of [5, 40]) {
    assert.throws(() => planWindows(frames, m, 1.5), /Expected a non-negative integer for --overlap but received 1\.5/);
    assert.throws(() => planWindows(frames, m, -1), /--overlap but received -1/);
  }
  assert.doesNotThrow(() => checkOverlap(undefined));
  assert.doesNotThrow(() => checkOverlap(0));
});
