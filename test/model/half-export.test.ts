/**
 * float16 transformer graphs (python/half_checks.py, run in the project's Python environment):
 * `python -m flowedit_export half` on the tiny fixture gives float16 ports (t float32), transformer.dtype
 * "float16" and formatVersion 2 and keeps the other files; its outputs stay within float16's
 * error of the float32 graph's (Sc = 0, and Sc > 0 with −1e4 biases), −1e4 on every context key
 * still equals Sc = 0, float16 and quantised packs are refused, and the Wan2.1 and FLUX.1 tiny
 * exports with --dtype float16 have float16 ports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pythonFindings } from '../python.js';

interface Err {
  velocity: number;
  worst: number;
}

interface Findings {
  tiny: {
    port_types: string[];
    manifest: { formatVersion: number; dtype: string };
    other_files_unchanged: boolean;
    errors: Record<string, { graph: Err; ports: Err; finite: boolean }>;
    minus_1e4_context_equals_sc0_rel: number;
    fixture_equals_conversion_rel: number;
  };
  refusals: { float16: string | null; int8: string | null; nothing_written: boolean };
  exporters: Record<string, { port_types: string[]; formatVersion: number; dtype: string }>;
  failures: string[];
}

test('float16 transformer graphs: the half command on the tiny fixture, its error against float32, refusals, the exporters with --dtype float16', { timeout: 120_000 }, async (t) => {
  const r = await pythonFindings<Findings>('half_checks.py');
  t.diagnostic(`errors ${JSON.stringify(r.tiny.errors)}`);
  assert.deepEqual(r.failures, []);
  assert.deepEqual(r.tiny.port_types, ['FLOAT', 'FLOAT16']); // t stays float32
  assert.deepEqual(r.tiny.manifest, { formatVersion: 2, dtype: 'float16' });
  assert.ok(r.tiny.other_files_unchanged);
  assert.deepEqual(Object.keys(r.tiny.errors), ['sc0', 'sc3_excluded']);
  for (const [k, e] of Object.entries(r.tiny.errors)) {
    assert.ok(e.finite, k);
    // float16 arithmetic: well above float32's error, well below a broken conversion's
    assert.ok(e.graph.worst > 1e-5 && e.graph.worst < 5e-3, `${k}: ${JSON.stringify(e)}`);
    // the rounding at the float16 ports adds little once t stays float32 (it added 1–3 % as a float16 port)
    assert.ok(e.ports.worst < 5e-3, `${k}: ${JSON.stringify(e)}`);
  }
  assert.ok(r.tiny.minus_1e4_context_equals_sc0_rel < 1e-3);
  assert.equal(r.tiny.fixture_equals_conversion_rel, 0);
  assert.match(r.refusals.float16 ?? '', /already float16/);
  assert.match(r.refusals.int8 ?? '', /quantised weights \(MatMulNBits/);
  assert.ok(r.refusals.nothing_written);
  for (const name of ['wan2.1', 'flux.1']) {
    const e = r.exporters[name]!;
    assert.deepEqual([e.port_types, e.formatVersion, e.dtype], [['FLOAT', 'FLOAT16'], 2, 'float16'], name);
  }
});
