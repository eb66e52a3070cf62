/**
 * The benchmark's rows by edit kind: the share right among the colour edits and among the shape
 * edits, each counted over the edits of its kind; and the share whose object was dropped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { droppedRow, rightByKind } from '../../bench/eval/sections.js';

const edit = (kind: 'shape' | 'colour') => ({ edit: { kind, object: 0, from: 'a', to: 'b' } });

test('the share right is split by edit kind, each over its own cases', () => {
  const cases = { stills: [edit('colour'), edit('shape'), edit('colour'), edit('shape'), edit('shape')], clips: [edit('shape'), edit('colour')] };
  const s = [true, false, false, true, true].map((right) => ({ right }));
  const c = [false, true].map((right) => ({ right }));
  const rows = rightByKind(cases, 'swap (mask)', 'some setting', 'share new object right', s, c);
  assert.deepEqual(
    rows.map((r) => [r.metric, r.stills, r.clips, r.n]),
    [
      ['share new object right, colour edits', 1 / 2, 1, [2, 1]],
      ['share new object right, shape edits', 2 / 3, 0, [3, 1]],
    ],
  );
  assert.ok(rows.every((r) => r.section === 'swap (mask)' && r.setting === 'some setting' && r.target === undefined));
});

test('a kind with no cases has no share', () => {
  const rows = rightByKind({ stills: [edit('colour')], clips: [] }, 'text edit', 's', 'share target object right', [{ right: true }], []);
  assert.deepEqual(rows.map((r) => [r.stills, r.n]), [[1, [1, 0]], [NaN, [0, 0]]]);
  assert.ok(Number.isNaN(rows[0]!.clips));
});

test('the dropped-object row counts the edits whose object area came out mostly background, stills and clips apart', () => {
  const row = droppedRow('text edit', 's', [{ dropped: true }, { dropped: false }, { dropped: false }, { dropped: true }], [{ dropped: false }]);
  assert.deepEqual([row.section, row.metric, row.stills, row.clips, row.n], ['text edit', 'share with the object area mostly background (object dropped)', 0.5, 0, [4, 1]]);
  assert.equal(row.target, undefined, 'a diagnostic, with no target');
});
