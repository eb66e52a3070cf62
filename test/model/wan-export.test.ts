/**
 * The Wan2.1 exporter's own checks (python/wan_checks.py and python/wan_vae_checks.py), run for real
 * in the project's Python environment: ONNX against PyTorch in onnxruntime, the float32 RoPE and
 * time features against the reference's float64/complex forms, the port identities, the
 * quantised and float16 graphs' velocity error, strict checkpoint loading (a missing key, an extra
 * key, a truncated shard, shards without their index, an image-to-video config: one error each),
 * a pack exported from a release-like folder of bfloat16 shards, and the causal VAE's whole-clip
 * graphs against the release's chunked encode/decode on 1, 5 and 9 frames, at the tiny size and
 * the release size (random weights).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pythonFindings } from '../python.js';

interface Err {
  max_abs: number;
  rel_inf: number;
}

describe("the Wan2.1 exporter's checks (the two scripts run side by side)", { concurrency: 2 }, () => {
  test('Wan2.1 transformer export: parity, float32 RoPE and time features, port identities, quantised graphs, strict loading, a pack from a release folder', { timeout: 600_000 }, async (t) => {
    const r = await pythonFindings<{
      graph_has_float64_or_complex: boolean;
      parity: { worst_overall: number };
      identities: Record<string, number>;
      precision: Record<string, number>;
      smaller_graphs: Record<string, { velocity_rel: number } | number>;
      loading: { sharded_loads_exactly: boolean; bf16_single_loads_as_float32: boolean; all_refused: boolean; errors: Record<string, string | null> };
      pack: { files: string[]; problems: string[]; release_folder_bf16_shards_velocity_rel: number; wrong_models: string[]; wrong_models_refused_seconds: number; memory_refusal: string | null };
      failures: string[];
    }>('wan_checks.py');
    t.diagnostic(`parity ${r.parity.worst_overall.toExponential(2)}; identities ${JSON.stringify(r.identities)}; precision ${JSON.stringify(r.precision)}`);
    const smaller = Object.entries(r.smaller_graphs).flatMap(([k, v]) => (typeof v === 'number' ? [] : [[k, v] as const]));
    t.diagnostic(`quantised: ${smaller.map(([k, v]) => `${k} ${v.velocity_rel.toExponential(2)}`).join(', ')}`);
    assert.deepEqual(r.failures, []);
    assert.equal(r.graph_has_float64_or_complex, false);
    assert.ok(r.parity.worst_overall < 1e-5, `parity ${r.parity.worst_overall}`);
    for (const [k, v] of Object.entries(r.identities)) assert.ok(v < 1e-5, `${k}: ${v}`);
    assert.ok(r.loading.sharded_loads_exactly && r.loading.bf16_single_loads_as_float32 && r.loading.all_refused);
    for (const [k, msg] of Object.entries(r.loading.errors)) assert.ok(msg && !msg.includes('\n'), `${k}: one line, ${msg}`);
    assert.deepEqual(r.pack.files, ['manifest.json', 'text_encoder.onnx', 'tokenizer.json', 'transformer.onnx', 'vae_decoder.onnx', 'vae_encoder.onnx']);
    assert.ok(r.pack.release_folder_bf16_shards_velocity_rel < 1e-5);
    // a release folder of other models' files: one line per file, all before any export
    assert.equal(r.pack.wrong_models.length, 3, r.pack.wrong_models.join('\n'));
    assert.match(r.pack.wrong_models[0]!, /diffusion_pytorch_model\.safetensors does not match the Wan2\.1 transformer .*missing keys: head\.head\.bias/);
    assert.match(r.pack.wrong_models[1]!, /Wan2\.1_VAE\.pth does not match the Wan2\.1 VAE: .*shape mismatches/);
    assert.match(r.pack.memory_refusal ?? '', /the text part needs about 45 GiB of memory .* 16 GiB is available: export it on a larger machine with --only text .* --only transformer,vae/);
  assert.match(r.pack.wrong_models[2]!, /models_t5_umt5-xxl-enc-bf16\.pth does not match the UMT5-XXL encoder: .*missing keys/);
    const int8 = smaller.filter(([k]) => k.startsWith('int8'));
    const int4 = smaller.filter(([k]) => k.startsWith('int4'));
    assert.ok(int8.length > 0 && int4.length > 0, 'int8 and int4 graphs are checked');
    for (const [k, v] of int8) assert.ok(v.velocity_rel < 0.02, `${k}: ${v.velocity_rel}`);
    for (const [k, v] of int4) assert.ok(v.velocity_rel < 0.2, `${k}: ${v.velocity_rel}`);
    // the quantised graphs are not the float one: some error is there
    for (const [k, v] of [...int8, ...int4]) assert.ok(v.velocity_rel > 1e-5, `${k} differs from float32`);
  });

  test('Wan2.1 causal VAE: whole-clip graphs equal the chunked encode/decode on 1, 5 and 9 frames (tiny and release size), in onnxruntime too; other models files are refused', { timeout: 600_000 }, async (t) => {
    const r = await pythonFindings<{
      chunked: Record<string, { encode: Err; decode: Err; encode_first_then_rest: Err; mean_shape: number[]; pixels_shape: number[] }>;
      onnx: Record<string, { encode: Err; decode: Err }>;
      checkpoint: { roundtrip_encode: Err; flux_ae: string; dit: string; other_width: string; missing_key: string };
      full: { frames_9: { encode: Err; decode: Err }; parameters: number };
    }>('wan_vae_checks.py');
    t.diagnostic(`chunked vs whole: ${Object.entries(r.chunked).map(([k, v]) => `${k} encode ${v.encode.rel_inf.toExponential(1)} decode ${v.decode.rel_inf.toExponential(1)}`).join('; ')}`);
    t.diagnostic(`release size, 9 frames: encode ${r.full.frames_9.encode.rel_inf.toExponential(1)}, decode ${r.full.frames_9.decode.rel_inf.toExponential(1)}`);
    assert.deepEqual(Object.keys(r.chunked), ['frames_1', 'frames_5', 'frames_9']);
    assert.deepEqual(
      Object.values(r.chunked).map((v) => [v.mean_shape[2], v.pixels_shape[2]]),
      [[1, 1], [2, 5], [3, 9]],
      'F′ = 1 + (F − 1)/4 and back',
    );
    for (const [k, v] of Object.entries(r.chunked)) for (const e of [v.encode, v.decode, v.encode_first_then_rest]) assert.ok(e.rel_inf < 1e-5, `${k}: ${JSON.stringify(v)}`);
    for (const [k, v] of Object.entries(r.onnx)) for (const e of [v.encode, v.decode]) assert.ok(e.rel_inf < 1e-5, `onnx ${k}: ${JSON.stringify(v)}`);
    for (const e of [r.full.frames_9.encode, r.full.frames_9.decode]) assert.ok(e.rel_inf < 1e-5, JSON.stringify(r.full));
    assert.ok(Math.abs(r.full.parameters - 126_892_531) < 1, `${r.full.parameters} parameters`);
    assert.equal(r.checkpoint.roundtrip_encode.max_abs, 0);
    assert.match(r.checkpoint.flux_ae, /not a Wan2\.1 VAE checkpoint/);
    assert.match(r.checkpoint.dit, /not a Wan2\.1 VAE checkpoint/);
    assert.match(r.checkpoint.other_width, /base width 96/);
    assert.match(r.checkpoint.missing_key, /missing keys: decoder\.head\.2\.bias/);
  });
});
