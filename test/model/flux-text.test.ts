/**
 * FLUX.1's text encoders and tokenizer files as the exporter prepares them
 * (python/flux_text_checks.py: flowedit_export/flux/text.py and tokenizer.py on tiny random
 * encoders and the test tokenizers). Its two halves, the encoders and the tokenizers, run side
 * by side in two processes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pythonFindings } from '../python.js';

interface Ports {
  inputs: Record<string, (string | number)[]>;
  outputs: Record<string, (string | number)[]>;
  float64: string[];
}
interface Loaded {
  problems: string[];
  rel_err: number;
  dtype: string;
  embedding_is_bf16_rounded?: boolean;
  embedding_tied?: boolean;
}
interface Refusal {
  check: string[];
  load: string | null;
}
interface EncoderChecks {
  t5: { ports: Ports; onnx_vs_torch_rel_err: Record<string, number> };
  clip: { ports: Ports; onnx_vs_torch_rel_err: number; pooled_vs_hidden_at_first_eos_rel_err: number; first_eos: number[]; pooled_vs_other_tail_rel_err: number };
  loading: Record<'t5_sharded_bf16' | 't5_full_bin' | 'clip_release' | 'clip_full_model', Loaded>;
  refusals: Record<'missing_key' | 'unexpected_key' | 'shape_mismatch' | 'truncated_shard' | 'other_encoder' | 'no_weights', Refusal>;
  release: Record<'t5' | 'clip', { keys: number; parameters: number; first_keys: string[] }>;
}
interface TokenizerChecks {
  tokenizers: {
    fixtures_equal_fresh_training: { t5: boolean; clip: boolean };
    sources_agree: Record<string, boolean>;
    info: { t5: Record<string, number | null>; clip: Record<string, number | null> };
    refusals: Record<string, string | null>;
    not_written_when_refused: boolean;
    written_info_matches: boolean;
  };
}

let encoderFindings: Promise<EncoderChecks> | undefined;
const encoderChecks = (): Promise<EncoderChecks> => (encoderFindings ??= pythonFindings<EncoderChecks>('flux_text_checks.py', ['--only', 'encoders']));

describe('FLUX.1 text side (encoders and tokenizers checked side by side)', { concurrency: 3 }, () => {
  test('FLUX.1 text encoders: the ONNX graphs equal PyTorch; CLIP pools at the first <|endoftext|>', { timeout: 600_000 }, async (t) => {
    const r = await encoderChecks();
    t.diagnostic(`T5 ‖onnx − torch‖∞/‖torch‖∞ by L: ${JSON.stringify(r.t5.onnx_vs_torch_rel_err)}; CLIP ${r.clip.onnx_vs_torch_rel_err.toExponential(2)}, pooled vs hidden state at the first EOS ${r.clip.pooled_vs_hidden_at_first_eos_rel_err.toExponential(2)}`);
    assert.deepEqual(r.t5.ports, { inputs: { input_ids: ['batch', 'tokens'] }, outputs: { text: ['batch', 'tokens', 32] }, float64: [] });
    assert.deepEqual(r.clip.ports, { inputs: { input_ids: ['batch', 77] }, outputs: { pooled: ['batch', 32] }, float64: [] });
    for (const [L, err] of Object.entries(r.t5.onnx_vs_torch_rel_err)) assert.ok(err < 1e-5, `T5 L=${L}: ${err}`);
    assert.ok(r.clip.onnx_vs_torch_rel_err < 1e-5, `CLIP ${r.clip.onnx_vs_torch_rel_err}`);
    assert.ok(r.clip.pooled_vs_hidden_at_first_eos_rel_err < 1e-5, 'pooled = final-normed hidden state at the first EOS');
    assert.deepEqual(r.clip.first_eos, [2, 19, 76, 49], 'prompts of 3, 20, 77 and 50 tokens');
    assert.equal(r.clip.pooled_vs_other_tail_rel_err, 0, 'what follows the EOS does not change the pooled vector');
  });

  test('FLUX.1 text encoders: release folders load strictly, the other halves of full checkpoints are skipped, the rest refused', { timeout: 600_000 }, async (t) => {
    const r = await encoderChecks();
    t.diagnostic(`loaded vs original: ${Object.entries(r.loading).map(([k, v]) => `${k} ${v.rel_err.toExponential(2)}`).join(', ')}`);
    for (const [name, l] of Object.entries(r.loading)) {
      assert.deepEqual(l.problems, [], name);
      assert.equal(l.dtype, 'torch.float32', name);
      assert.ok(l.rel_err < (name === 't5_sharded_bf16' ? 2e-2 : 1e-6), `${name}: ${l.rel_err}`);
    }
    assert.ok(r.loading.t5_sharded_bf16.embedding_is_bf16_rounded && r.loading.t5_sharded_bf16.embedding_tied, 'shared.weight alone fills the tied embedding');
    const expected: Record<keyof EncoderChecks['refusals'], RegExp> = {
      missing_key: /clip_missing\/model\.safetensors does not match .* 1 missing keys: final_layer_norm\.weight/,
      unexpected_key: /1 unexpected keys: encoder\.layers\.0\.extra\.weight/,
      shape_mismatch: /t5_wide\/pytorch_model\.bin .* 6 shape mismatches: encoder\.block\.0\.layer\.1\.DenseReluDense\.wi_0\.weight \(64, 32\) \(expected \(96, 32\)\)/,
      truncated_shard: /model-00002-of-00002\.safetensors: truncated: \d+ bytes, its header describes \d+/,
      other_encoder: /config\.json: model_type 't5' \(a T5 model: is this the other text encoder's folder\?\); expected FLUX\.1's CLIP text encoder/,
      no_weights: /has no model\.safetensors, model\.safetensors\.index\.json or pytorch_model\.bin/,
    };
    for (const [name, re] of Object.entries(expected)) {
      const refusal = r.refusals[name as keyof EncoderChecks['refusals']];
      assert.equal(refusal.check.length, 1, name);
      assert.match(refusal.check[0]!, re, name);
      assert.equal(refusal.load, refusal.check[0], `${name}: loading refuses with the same message`);
    }
    assert.deepEqual(r.release.t5, { keys: 219, parameters: 4762310656, first_keys: ['shared.weight', 'encoder.block.0.layer.0.SelfAttention.q.weight', 'encoder.block.0.layer.0.SelfAttention.k.weight', 'encoder.block.0.layer.0.SelfAttention.v.weight'] });
    assert.equal(r.release.clip.keys, 196);
    assert.equal(r.release.clip.parameters, 123060480);
  });

  test('FLUX.1 tokenizers: the fixtures are reproducible, every source file gives the same pack tokenizer, bad folders are refused', { timeout: 600_000 }, async () => {
    const r = (await pythonFindings<TokenizerChecks>('flux_text_checks.py', ['--only', 'tokenizers'])).tokenizers;
    assert.deepEqual(r.fixtures_equal_fresh_training, { t5: true, clip: true });
    assert.deepEqual(r.sources_agree, { t5_spiece_only: true, t5_json_only: true, clip_files_only: true, clip_json_only: true });
    assert.deepEqual(r.info, { t5: { vocab_size: 2100, pad_id: 0, eos_id: 1, unk_id: 2, bos_id: null }, clip: { vocab_size: 2048, pad_id: 2047, eos_id: 2047, unk_id: 2047, bos_id: 2046 } });
    const expected: Record<string, RegExp> = {
      t5_folder_as_clip: /t5-as-clip: holds spiece\.model, a sentencepiece tokenizer such as T5's; expected FLUX\.1's CLIP tokenizer folder/,
      clip_folder_as_t5: /clip-as-t5: has neither spiece\.model nor tokenizer\.json \(vocab\.json and merges\.txt: a BPE tokenizer such as CLIP's\)/,
      clip_json_as_t5: /clip-json-as-t5\/tokenizer\.json: a BPE tokenizer; expected T5's Unigram/,
      clip_truncated_merges: /merges\.txt: 899 merges for a vocabulary of 2048 tokens; .* may be truncated/,
      clip_truncated_vocab: /vocab\.json: not readable as JSON .* may be truncated/,
      clip_files_disagree: /tokenizer\.json: its merges differ from merges\.txt's; the tokenizer files disagree/,
      t5_files_disagree: /tokenizer\.json: piece 500 .* the tokenizer files disagree/,
      t5_truncated_spiece: /spiece\.model: not a sentencepiece model .* may be truncated/,
      no_folder: /nowhere: not a folder/,
      vocab_exceeds_embedding: /t5-test: 2100 token ids but the text encoder's token embedding has 1000 rows/,
    };
    for (const [name, re] of Object.entries(expected)) assert.match(r.refusals[name] ?? '(accepted)', re, name);
    assert.ok(r.not_written_when_refused);
    assert.ok(r.written_info_matches);
  });
});
