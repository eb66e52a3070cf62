/**
 * The FLUX.1 transformer exporter's own checks (python/flux_checks.py), run for real in the
 * project's Python environment on the tiny random model: ONNX against PyTorch in onnxruntime
 * (dev and schnell), our float32 module against a forward written from the reference's math with
 * float64 RoPE, the float32 RoPE at the full head size, the port identities, the quantised and
 * float16 graphs' velocity error, the part-by-part export against the whole graph, and strict
 * checkpoint loading (one error line per broken file, from the loader and from the header-only check).
 *
 * Beside them, in another Python process, the float16 conversion's checks (python/half_checks.py):
 * `python -m flowedit_export half` on the tiny fixture gives float16 ports (t float32),
 * transformer.dtype "float16" and formatVersion 2 and keeps the other files; its outputs stay
 * within float16's error of the float32 graph's (Sc = 0, and Sc > 0 with −1e4 biases), −1e4 on
 * every context key still equals Sc = 0, float16 and quantised packs are refused, and the Wan2.1
 * and FLUX.1 tiny exports with --dtype float16 have float16 ports.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pythonFindings } from '../python.js';

interface Findings {
  graph_has_float64_or_complex: boolean;
  ports: Record<'dev' | 'schnell', string[]>;
  parity: Record<'dev' | 'schnell', { worst_overall: number; worst_rel: Record<string, number> }>;
  identities: Record<'dev' | 'schnell', Record<string, number>>;
  precision: Record<string, number>;
  smaller_graphs: Record<string, { velocity_rel: number; matmuls?: number } | number>;
  stream: { int4_random_dev_vs_whole_rel: number; float16_random_dev_vs_whole_rel: number; float32_checkpoint_schnell_vs_torch_rel: number; int4_parts: number; leftovers: string[]; refused: string | null };
  loading: {
    release_folder_bf16_loads_as_float32: boolean;
    sharded_loads_exactly: boolean;
    variants_detected: string[];
    errors: Record<string, string | null>;
    header_check: Record<string, { problems: number }>;
    all_refused: boolean;
  };
  layers: number;
  failures: string[];
}

interface Err {
  velocity: number;
  worst: number;
}

interface HalfFindings {
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

describe('exporter checks (two scripts side by side)', { concurrency: 2 }, () => {
  test('FLUX.1 transformer export: parity, reference forward, float32 RoPE, port identities, quantised graphs, part-by-part export, strict loading', { timeout: 300_000 }, async (t) => {
    const r = await pythonFindings<Findings>('flux_checks.py');
    t.diagnostic(`parity dev ${r.parity.dev.worst_overall.toExponential(2)}, schnell ${r.parity.schnell.worst_overall.toExponential(2)}; precision ${JSON.stringify(r.precision)}`);
    t.diagnostic(`identities ${JSON.stringify(r.identities)}; stream ${JSON.stringify(r.stream)}`);
    assert.deepEqual(r.failures, []);
    assert.equal(r.graph_has_float64_or_complex, false);
    // dev takes the distilled guidance, schnell does not; the context ports follow
    assert.deepEqual(r.ports.dev, ['latents', 't', 'text', 'pooled', 'guidance', 'ctx_k.0']);
    assert.deepEqual(r.ports.schnell, ['latents', 't', 'text', 'pooled', 'ctx_k.0', 'ctx_v.0']);
    for (const variant of ['dev', 'schnell'] as const) {
      const p = r.parity[variant];
      // every layer's K and V is compared, double and single blocks alike
      assert.equal(Object.keys(p.worst_rel).length, 1 + 2 * r.layers);
      assert.ok(p.worst_overall < 1e-5, `${variant} parity ${p.worst_overall}`);
      for (const [k, v] of Object.entries(r.identities[variant])) assert.ok(v < 1e-5, `${variant} ${k}: ${v}`);
    }
    for (const [k, v] of Object.entries(r.precision)) {
      if (k.startsWith('rope')) assert.ok(v < 2e-5, `${k}: ${v}`);
      else if (k.startsWith('time')) assert.ok(v < 1e-6, `${k}: ${v}`);
      else assert.ok(v < 1e-4, `${k}: ${v}`);
    }
    const smaller = Object.entries(r.smaller_graphs).flatMap(([k, v]) => (typeof v === 'number' ? [] : [[k, v] as const]));
    t.diagnostic(`quantised: ${smaller.map(([k, v]) => `${k} ${v.velocity_rel.toExponential(2)}`).join(', ')}`);
    const int8 = smaller.filter(([k]) => k.startsWith('int8'));
    const int4 = smaller.filter(([k]) => k.startsWith('int4'));
    assert.ok(int8.length > 0 && int4.length > 0, 'int8 and int4 graphs are checked');
    for (const [k, v] of int8) assert.ok(v.velocity_rel > 1e-5 && v.velocity_rel < 0.02, `${k}: ${v.velocity_rel}`);
    for (const [k, v] of int4) assert.ok(v.velocity_rel > 1e-5 && v.velocity_rel < 0.2, `${k}: ${v.velocity_rel}`);
    // every Linear of the model, modulations included, is quantised: 10 per double block (img and txt:
    // mod, qkv, proj, mlp ×2), 3 per single block, 8 in the embeddings (dev: img_in, txt_in and two
    // each in time_in, guidance_in, vector_in), 2 in the final layer (tiny: 2 + 2 blocks)
    for (const [k, v] of [...int8, ...int4]) assert.equal(v.matmuls, 2 * 10 + 2 * 3 + 8 + 2, k);
    assert.ok(r.stream.int4_random_dev_vs_whole_rel < 1e-5, `stream int4 ${r.stream.int4_random_dev_vs_whole_rel}`);
    assert.ok(r.stream.float16_random_dev_vs_whole_rel < 1e-5, `stream float16 ${r.stream.float16_random_dev_vs_whole_rel}`);
    assert.ok(r.stream.float32_checkpoint_schnell_vs_torch_rel < 1e-5);
    assert.equal(r.stream.int4_parts, 2 + r.layers);
    // a checkpoint lacking a key is refused before any part is written; an interrupted export leaves nothing
    assert.match(r.stream.refused ?? '', /stream-broken\.safetensors does not match the FLUX\.1 \[schnell\] transformer .*missing keys: final_layer\.linear\.bias/);
    assert.deepEqual(r.stream.leftovers, []);
    const l = r.loading;
    assert.ok(l.release_folder_bf16_loads_as_float32 && l.sharded_loads_exactly && l.all_refused);
    assert.deepEqual(l.variants_detected, ['dev', 'schnell']);
    for (const [k, msg] of Object.entries(l.errors)) assert.ok(msg && !msg.includes('\n'), `${k}: one line, ${msg}`);
    for (const [k, h] of Object.entries(l.header_check)) assert.equal(h.problems, 1, k);
    assert.match(l.errors.missing_key!, /missing\.safetensors does not match the FLUX\.1 \[dev\] transformer .*1 missing keys: single_blocks\.1\.norm\.key_norm\.scale/);
    assert.match(l.errors.unexpected_key!, /1 unexpected keys: double_blocks\.0\.img_attn\.norm\.extra/);
    assert.match(l.errors.shape_mismatch!, /shape mismatches: txt_in\.weight \(64, 48\) \(expected \(64, 32\)\)/);
    assert.match(l.errors.truncated_file!, /truncated\.safetensors: truncated: .*download it again/);
    assert.match(l.errors.dev_file_as_schnell!, /a FLUX\.1 \[dev\] checkpoint .* asks for FLUX\.1 \[schnell\]: pass --variant dev/);
    assert.match(l.errors.schnell_file_as_dev!, /a FLUX\.1 \[schnell\] checkpoint .* asks for FLUX\.1 \[dev\]: pass --variant schnell/);
    assert.match(l.errors.diffusers_layout!, /not a FLUX\.1 transformer checkpoint.*diffusers layout/);
    assert.match(l.errors.shards_without_index!, /no \.safetensors\.index\.json/);
  });

  test('float16 transformer graphs: the half command on the tiny fixture, its error against float32, refusals, the exporters with --dtype float16', { timeout: 120_000 }, async (t) => {
    const r = await pythonFindings<HalfFindings>('half_checks.py');
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
});

