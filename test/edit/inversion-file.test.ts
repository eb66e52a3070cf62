import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeInversion, encodeInversion, type InversionHeader } from '../../src/edit/frames/inversion-file.js';

const header: InversionHeader = {
  format: 'flowedit.inversion',
  version: 1,
  flowedit: '0.0.0',
  modelId: 'm',
  settings: { sourcePrompt: 'ünïcode prompt', steps: 2, solver: 'midpoint' },
  ts: [1, 0.5, 0],
  latentShape: [1, 2, 1, 2, 3],
  source: { path: 'x.png', sha256: '0'.repeat(64), width: 3, height: 2 },
  fit: { mode: 'pad', sourceWidth: 3, sourceHeight: 2, workWidth: 3, workHeight: 2, contentWidth: 3, contentHeight: 2 },
  calls: 4,
};

test('an inversion file round-trips exactly', () => {
  const trajectory = [0, 1, 2].map((k) => Float32Array.from({ length: 12 }, (_, i) => k * 100 + i + 0.25));
  const back = decodeInversion(encodeInversion(header, trajectory));
  assert.deepEqual(back.header, header);
  assert.deepEqual(back.inversion.trajectory, trajectory);
});

test('damaged files are refused with a hint', () => {
  const buf = encodeInversion(header, [0, 1, 2].map(() => new Float32Array(12)));
  assert.throws(() => decodeInversion(buf.subarray(0, buf.length - 4), 'cut.flowinv'), /cut.flowinv is not a usable flowedit inversion file \(expected 3 latents/);
  assert.throws(() => decodeInversion(Buffer.from('PNG not an inversion'), 'x'), /wrong magic bytes.*flowedit invert/);
  assert.throws(() => encodeInversion(header, [new Float32Array(12)]), /Trajectory must hold 3 latents/);
});
