/**
 * The FLUX.1 pack exporter's checks (python/flux_pack_checks.py), run for real in the project's
 * Python environment: the autoencoder against an independent forward pass of the release's math
 * (tiny and release size), its graphs in onnxruntime, strict loading of ae.safetensors; the tiny
 * random pack exported to a temporary folder (files, manifest, graph ports, its autoencoder graphs
 * against PyTorch); a pack from a release-like folder (bfloat16 transformer, text folders beside
 * their tokenizer folders) against PyTorch on the same weights; and every bad input refused by
 * the plan in one line before any graph is written, leaving nothing at --out. Then the committed
 * fixture pack test/fixtures/packs/flux-tiny: its manifest is a fresh export's, and its
 * autoencoder graphs, run by onnxruntime-node, give PyTorch's outputs.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openGraph } from '../../src/model/ort.js';
import { relativeError, ROOT, tempDir } from '../paths.js';
import { pythonFindings } from '../python.js';

type Errors = Record<string, number>;
interface AeCase {
  input: string;
  output: string;
  inShape: number[];
  outShape: number[];
  inFile: string;
  outFile: string;
}
interface Findings {
  ae: {
    tiny_parameters: number;
    full_parameters: number;
    reference: { tiny: Errors; full: Errors };
    onnx: Errors & { mean_shape: number[]; pixels_shape: number[] };
    loading: { roundtrip_max_abs: number; errors: Record<string, string>; header_errors: Record<string, string[]> };
  };
  pack: {
    seconds: number;
    files: string[];
    bytes: number;
    manifest: Record<string, unknown>;
    ae_graphs: Errors;
    ae_cases: Record<'vae_encoder' | 'vae_decoder', AeCase>;
    fixture_manifest_matches: boolean;
    release: { id: string; ae_graphs: Errors; velocity: number; streamed_int4_velocity: number };
    refusals: Record<string, string[]>;
    cli_refusal: { status: number; stderr: string[] };
    problems: string[];
  };
  failures: string[];
}

const FIXTURE = join(ROOT, 'test/fixtures/packs/flux-tiny');

async function floats(path: string): Promise<Float32Array> {
  const buf = await readFile(path);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

describe('the FLUX.1 pack exporter', () => {
  test('autoencoder, tiny pack, release-like folder, bad inputs refused before any work; the committed flux-tiny pack', { timeout: 600_000 }, async (t) => {
    const cases = await tempDir('flowedit-flux-ae-');
    try {
      const r = await pythonFindings<Findings>('flux_pack_checks.py', ['--cases', cases]);
      t.diagnostic(`autoencoder against the release's math: tiny ${JSON.stringify(r.ae.reference.tiny)}, full ${JSON.stringify(r.ae.reference.full)}`);
      t.diagnostic(`graphs: ${JSON.stringify(r.ae.onnx)}; pack ${r.pack.files.length} files, ${(r.pack.bytes / 1e6).toFixed(1)} MB in ${r.pack.seconds} s`);
      t.diagnostic(`release-like folder: velocity ${r.pack.release.velocity.toExponential(2)}, ae ${JSON.stringify(r.pack.release.ae_graphs)}`);
      assert.deepEqual(r.failures, []);

      // The autoencoder: the release's parameter count, its math, its graphs, strict loading.
      assert.equal(r.ae.full_parameters, 83_819_683);
      for (const e of [...Object.values(r.ae.reference.tiny), ...Object.values(r.ae.reference.full)]) assert.ok(e < 1e-5, `${e}`);
      for (const k of ['encoder', 'decoder', 'encoder_per_frame', 'release_encode', 'release_decode']) assert.ok(r.ae.onnx[k]! < 1e-5, `${k}: ${r.ae.onnx[k]}`);
      assert.deepEqual(r.ae.onnx.mean_shape, [2, 16, 3, 5, 3]);
      assert.deepEqual(r.ae.onnx.pixels_shape, [2, 3, 3, 40, 24]);
      assert.equal(r.ae.loading.roundtrip_max_abs, 0);
      const load = r.ae.loading.errors;
      for (const [k, msg] of Object.entries(load)) assert.ok(!msg.includes('\n'), `${k}: one line`);
      assert.match(load.diffusers_layout!, /diffusers layout .* pass ae\.safetensors/);
      assert.match(load.transformer_file!, /is not a FLUX\.1 autoencoder/);
      assert.match(load.other_width!, /base width 16, expected 128/);
      assert.match(load.missing_key!, /1 missing keys: decoder\.conv_out\.bias/);
      assert.match(load.extra_key!, /1 unexpected keys: encoder\.mid\.attn_2\.q\.weight/);
      assert.match(load.truncated!, /truncated/);
      assert.match(r.ae.loading.header_errors.truncated![0]!, /truncated: \d+ bytes, its header describes \d+/);

      // The tiny random pack.
      assert.deepEqual(r.pack.files, ['clip_encoder.onnx', 'clip_tokenizer.json', 'manifest.json', 't5_encoder.onnx', 't5_tokenizer.json', 'transformer.onnx', 'vae_decoder.onnx', 'vae_encoder.onnx']);
      const m = r.pack.manifest as { id: string; formatVersion: number; transformer: { layerGroups: { double: number[]; single: number[] }; guidance: string }; defaults: { shareLayers: number[] } };
      assert.equal(m.id, 'flux.1-dev-tiny-random');
      assert.equal(m.formatVersion, 2);
      assert.equal(m.transformer.guidance, 'distilled');
      assert.deepEqual(m.defaults.shareLayers, m.transformer.layerGroups.single);
      for (const e of Object.values(r.pack.ae_graphs)) assert.ok(e < 1e-5, `${e}`);
      assert.equal(r.pack.release.id, 'flux.1-dev-tiny');
      assert.ok(r.pack.release.velocity < 1e-4, `${r.pack.release.velocity}`);
      // block by block with int4 weights: quantised, so close but not equal
      assert.ok(r.pack.release.streamed_int4_velocity > 1e-5 && r.pack.release.streamed_int4_velocity < 0.2, `${r.pack.release.streamed_int4_velocity}`);

      // Bad inputs: one line each, naming the file and what to do; nothing written.
      const refused = r.pack.refusals;
      for (const [k, lines] of Object.entries(refused)) {
        assert.equal(lines.length, 1, `${k}: ${lines.join(' / ')}`);
        assert.ok(!lines[0]!.includes('\n') && !lines[0]!.startsWith('LEFT') && lines[0] !== 'NOT REFUSED', `${k}: ${lines[0]}`);
      }
      const expected: Record<string, RegExp> = {
        missing_ae: /ae\.safetensors: missing; expected ae\.safetensors/,
        partial_ae: /partial-ae\.safetensors does not match FLUX\.1's autoencoder .*1 missing keys: decoder\.mid\.attn_1\.proj_out\.bias/,
        shape_mismatch_ae: /shape mismatches: encoder\.down\.0\.block\.0\.conv1\.weight \(32, 16, 3, 3\) \(expected \(16, 16, 3, 3\)\)/,
        truncated_transformer: /flux1-dev\.safetensors: truncated/,
        missing_shard: /flux1-dev\.safetensors\.index\.json: names shards that are not in .*: flux1-dev-00002-of-00002\.safetensors/,
        t5_tokens_without_text: /--t5-tokens .* add text to --only/,
        t5_as_clip: /text_encoder_2: a T5 folder .* given as --clip/,
        clip_as_t5: /text_encoder: a CLIP folder .* given as --t5/,
        schnell_as_dev: /a FLUX\.1 \[schnell\] checkpoint .* pass --variant schnell/,
        dev_as_schnell: /a FLUX\.1 \[dev\] checkpoint .* pass --variant dev/,
        tokenizer_vocabulary: /tokenizer_2: 2100 token ids but the text encoder's token embedding has 64 rows/,
        existing_out: /existing: exists; choose another --out or pass --force/,
        disk_space: /B free, the export needs about \d+ MiB: free some space or choose another --out/,
        memory: /exporting the \w+ part needs about .* --only .* --ignore-memory/,
        memory_full: /exporting the transformer part needs about \d+ GiB .* --weights int4/,
      };
      for (const [k, re] of Object.entries(expected)) assert.match(refused[k]?.[0] ?? `no ${k}`, re, k);
      assert.equal(r.pack.cli_refusal.status, 2);
      assert.match(r.pack.cli_refusal.stderr.join('\n'), /cannot export:\n {2}.*exists; choose another --out or pass --force/);

      // The committed fixture: a fresh export's manifest, and its autoencoder graphs give PyTorch's outputs in onnxruntime-node.
      assert.ok(r.pack.fixture_manifest_matches, 'test/fixtures/packs/flux-tiny/manifest.json is what the exporter writes now (python/README.md: how to rewrite it)');
      const fixture = JSON.parse(await readFile(join(FIXTURE, 'manifest.json'), 'utf8')) as { id: string };
      assert.equal(fixture.id, 'flux.1-dev-tiny-random');
      for (const [name, c] of Object.entries(r.pack.ae_cases)) {
        const graph = await openGraph(join(FIXTURE, `${name}.onnx`), { threads: 1 });
        const out = await graph.run({ [c.input]: { dtype: 'float32', data: await floats(join(cases, c.inFile)), shape: c.inShape } }, [c.output]);
        await graph.release();
        const got = out[c.output]!;
        assert.deepEqual(got.shape, c.outShape, `${name} shape`);
        const err = relativeError(got.data as Float32Array, await floats(join(cases, c.outFile)));
        t.diagnostic(`flux-tiny ${name} in onnxruntime-node: ${err.toExponential(2)}`);
        assert.ok(err < 1e-5, `${name}: ${err}`);
      }
    } finally {
      await rm(cases, { recursive: true, force: true });
    }
  });
});
