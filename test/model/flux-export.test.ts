/**
 * The FLUX.1 transformer exporter's own checks (python/flux_checks.py), run for real in the
 * project's Python environment on the tiny random model: ONNX against PyTorch in onnxruntime
 * (dev and schnell), our float32 module against a forward written from the reference's math with
 * float64 RoPE, the float32 RoPE at the full head size, the port identities, the quantised and
 * float16 graphs' velocity error, the part-by-part export against the whole graph, and strict
 * checkpoint loading (one error line per broken file, from the loader and from the header-only check).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
