/**
 * Wan2.1's prompt pipeline in Node against the reference in Python, id for id.
 *
 * Python (python/tokenize_prompts.py): clean_prompt (ftfy.fix_text, html.unescape twice, strip,
 * whitespace runs) then the Rust `tokenizers` tokenizer with the post-processor's EOS and
 * truncation to L. Node: flowedit's own prompt path (promptTokenIds in src/model/text.ts: the
 * pack's `clean: "wan"` rule, the `tokenizers` library on the same tokenizer.json, `overflow:
 * "truncate"` keeping the final EOS). Prompts are generated deterministically:
 * accents, CJK, numbers, emoji, long prompts over 512 tokens, empty and blank prompts, odd spaces,
 * tabs, newlines, HTML entities, curly quotes, full-width characters, ligatures, control characters.
 *
 * Tokenizer: test/fixtures/tokenizers/umt5-test (a small UMT5-like sentencepiece Unigram model
 * trained here, see its README), as converted by transformers, and two variants of its
 * tokenizer.json: byte fallback on (as UMT5's sentencepiece model has it) and the normaliser and
 * pre-tokenizer layout of older transformers conversions.
 *
 * (@huggingface/tokenizers 0.2, the JavaScript port used before, agreed on 417–1030 of 1095 here:
 * its Precompiled normaliser approximates the charsmap, mapping U+200D to a space, and its Unigram
 * model ignores byte_fallback.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cleanPrompt } from '../../src/model/prompt-clean.js';
import { promptTokenIds } from '../../src/model/text.js';
import { PYTHON, ROOT, tempDir } from '../paths.js';
import { pythonFindings } from '../python.js';
import { mojibakePrompts, parityPrompts } from './tokenizer-prompts.js';

const run = promisify(execFile);

const FIXTURE = join(ROOT, 'test/fixtures/tokenizers/umt5-test/tokenizer.json');
const LENGTHS = [512, 24] as const;
const EOS_ID = 1;

// ---------------------------------------------------------------------------------------------
// The two sides.

interface Reference {
  clean: string[];
  clean_plain: string[];
  ids: Record<string, number[][]>;
}

const referenceCache = new Map<string, Promise<Reference>>();

/** The reference for a tokenizer and prompt list, computed once per run. */
function pythonSide(tokenizerPath: string, list: readonly string[], dir: string): Promise<Reference> {
  const key = `${tokenizerPath}\n${list.length}\n${list[0] ?? ''}\n${list[list.length - 1] ?? ''}`;
  let ref = referenceCache.get(key);
  if (!ref) referenceCache.set(key, (ref = runPythonSide(tokenizerPath, list, dir)));
  return ref;
}

async function runPythonSide(tokenizerPath: string, list: readonly string[], dir: string): Promise<Reference> {
  const file = join(dir, 'prompts.json');
  await writeFile(file, JSON.stringify(list));
  try {
    const { stdout } = await run(
      PYTHON,
      [join(ROOT, 'python/tokenize_prompts.py'), '--tokenizer', tokenizerPath, '--prompts', file, '--max-tokens', ...LENGTHS.map(String)],
      { cwd: join(ROOT, 'python'), maxBuffer: 1 << 28 },
    );
    return JSON.parse(stdout.trim().split('\n').pop()!) as Reference;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    assert.fail(`python/tokenize_prompts.py failed (it needs ftfy, regex and tokenizers; set FLOWEDIT_PYTHON to an interpreter with them):\n${e.stderr ?? e.message}`);
  }
}

/** flowedit's ids for every prompt, as a format 2 pack with this tokenizer and L reads them. */
async function nodeIds(tokenizerPath: string, L: number, prompts: readonly string[]): Promise<number[][]> {
  const text = { encoder: 'text_encoder.onnx', tokenizer: basename(tokenizerPath), maxTokens: L, dim: 1, padId: 0, overflow: 'truncate', unknown: 'keep', clean: 'wan' } as const;
  const ids = await promptTokenIds({ formatVersion: 2, text }, dirname(tokenizerPath), prompts);
  for (const row of ids) assert.equal(row[row.length - 1], EOS_ID, 'the post-processor appends EOS, kept by truncation');
  return ids;
}

function quoted(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
}

/** tokenizer.json variants: as converted, with byte fallback, and in older transformers' layout. */
async function variants(dir: string): Promise<Record<string, string>> {
  const spec = JSON.parse(await readFile(FIXTURE, 'utf8')) as Record<string, any>;
  assert.equal(spec.model.type, 'Unigram');
  const byteFallback = structuredClone(spec);
  byteFallback.model.byte_fallback = true;
  const older = structuredClone(spec);
  older.normalizer = {
    type: 'Sequence',
    normalizers: [spec.normalizer, { type: 'Strip', strip_left: false, strip_right: true }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: '\u2581' }],
  };
  older.pre_tokenizer = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true };
  const files: Record<string, string> = { converted: FIXTURE };
  for (const [name, json] of Object.entries({ 'byte-fallback': byteFallback, 'older-layout': older })) {
    files[name] = join(dir, `${name}.json`);
    await writeFile(files[name]!, JSON.stringify(json));
  }
  return files;
}

const PROMPTS = parityPrompts();

test('the parity prompts cover every case', () => {
  assert.ok(PROMPTS.length >= 1000, `${PROMPTS.length} prompts`);
  assert.ok(PROMPTS.includes(''));
  assert.ok(PROMPTS.some((p) => /[\u4e00-\u9fff]/.test(p)) && PROMPTS.some((p) => /\p{Extended_Pictographic}/u.test(p)));
});

interface TextChecks {
  encoder: { graph_inputs: string[]; graph_outputs: string[]; onnx_vs_torch_rel_err: number; padding_rows_max_abs: number; real_rows_vs_padding_length_rel_err: number; float64_in_graph: string[] };
  hf_umt5: { rel_err_real_rows: number; unloaded_hf_keys: string[]; unused_keys: string[] };
  buckets: { table_equals_reference_formula: boolean };
  xxl: { keys: number; parameters: number; too_large_vocab_refused: string | null };
  tokenizer: { fixture_equals_fresh_training: boolean; info: { vocab_size: number; pad_id: number; eos_id: number; unk_id: number }; spm_conversion_agrees: string; refusals: Record<string, string>; not_written_when_refused: boolean };
}

// Each test runs the reference in its own Python process: two run side by side.
describe('flowedit against the reference tokenizers and text encoder', { concurrency: 2 }, () => {
  test("cleanPrompt('wan', …) equals the reference's cleaning on well-formed prompts: n of n", { timeout: 600_000 }, async (t) => {
    const dir = await tempDir('flowedit-tokparity-');
    try {
      const ref = await pythonSide(FIXTURE, PROMPTS, dir);
      const wrong = PROMPTS.map((p, i) => ({ p, i })).filter(({ p, i }) => cleanPrompt('wan', p) !== ref.clean[i]);
      t.diagnostic(`cleaning: ${PROMPTS.length - wrong.length} of ${PROMPTS.length} agree`);
      assert.deepEqual(
        wrong.slice(0, 5).map(({ p, i }) => `${quoted(p)}: node ${quoted(cleanPrompt('wan', p))}, python ${quoted(ref.clean[i]!)}`),
        [],
        `${wrong.length} of ${PROMPTS.length} prompts cleaned differently`,
      );
      assert.equal(cleanPrompt('none', ' a  b '), ' a  b ');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('mojibake repair is left out of cleanPrompt: the only difference on mojibake prompts', { timeout: 600_000 }, async (t) => {
    const dir = await tempDir('flowedit-tokparity-');
    try {
      const list = mojibakePrompts();
      const ref = await pythonSide(FIXTURE, list, dir);
      const node = list.map((p) => cleanPrompt('wan', p));
      const repaired = list.filter((_p, i) => ref.clean[i] !== ref.clean_plain[i]).length;
      const differ = list.filter((_p, i) => node[i] !== ref.clean[i]).length;
      t.diagnostic(`mojibake: ftfy repairs ${repaired} of ${list.length}; cleanPrompt differs from the reference on ${differ}`);
      assert.ok(repaired > 0, 'the mojibake prompts are mojibake to ftfy');
      assert.deepEqual(
        list.filter((_p, i) => node[i] !== ref.clean_plain[i]).map(quoted),
        [],
        'cleanPrompt equals ftfy without fix_encoding',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("flowedit's prompt path gives the reference token ids: n of n per tokenizer.json variant and L", { timeout: 600_000 }, async (t) => {
    const dir = await tempDir('flowedit-tokparity-');
    try {
      const failures: string[] = [];
      for (const [name, path] of Object.entries(await variants(dir))) {
        const ref = await pythonSide(path, PROMPTS, dir);
        for (const L of LENGTHS) {
          const want = ref.ids[String(L)]!;
          const got = await nodeIds(path, L, PROMPTS);
          const bad = PROMPTS.map((_p, i) => i).filter((i) => JSON.stringify(got[i]) !== JSON.stringify(want[i]));
          t.diagnostic(`${name}, L=${L}: ${PROMPTS.length - bad.length} of ${PROMPTS.length} agree`);
          for (const i of bad.slice(0, 3)) {
            failures.push(`${name} L=${L} ${quoted(ref.clean[i]!)}: node ${JSON.stringify(got[i]!.slice(0, 24))} python ${JSON.stringify(want[i]!.slice(0, 24))}`);
          }
          if (bad.length > 3) failures.push(`${name} L=${L}: … ${bad.length} prompts differ in all`);
        }
        assert.ok(ref.ids['512']!.some((ids) => ids.length === 512), 'some prompts are truncated to 512');
      }
      assert.deepEqual(failures, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('Wan text encoder: ONNX equals PyTorch and an independent UMT5; the tokenizer is prepared and refused as it should be', { timeout: 600_000 }, async (t) => {
    const r = await pythonFindings<TextChecks>('wan_text_checks.py');
    t.diagnostic(`tiny encoder ‖onnx − torch‖∞/‖torch‖∞ = ${r.encoder.onnx_vs_torch_rel_err.toExponential(2)}, vs transformers' UMT5 ${r.hf_umt5.rel_err_real_rows.toExponential(2)}`);
    assert.deepEqual([r.encoder.graph_inputs, r.encoder.graph_outputs], [['input_ids', 'attention_mask'], ['text']]);
    assert.ok(r.encoder.onnx_vs_torch_rel_err < 1e-5, `onnx vs torch ${r.encoder.onnx_vs_torch_rel_err}`);
    assert.equal(r.encoder.padding_rows_max_abs, 0, 'padding rows are zero');
    assert.ok(r.encoder.real_rows_vs_padding_length_rel_err < 1e-6, 'real rows do not depend on the padding length');
    assert.deepEqual(r.encoder.float64_in_graph, []);
    assert.ok(r.hf_umt5.rel_err_real_rows < 1e-5, `vs transformers' UMT5 ${r.hf_umt5.rel_err_real_rows}`);
    assert.deepEqual([r.hf_umt5.unloaded_hf_keys, r.hf_umt5.unused_keys], [[], []]);
    assert.ok(r.buckets.table_equals_reference_formula);
    assert.equal(r.xxl.keys, 1 + 24 * 10 + 1);
    assert.ok(Math.abs(r.xxl.parameters / 1e9 - 5.68) < 0.01, `${r.xxl.parameters} parameters`);
    assert.match(r.xxl.too_large_vocab_refused ?? '', /256384 rows/);
    assert.ok(r.tokenizer.fixture_equals_fresh_training, 'the committed test tokenizer is what train_test_tokenizer makes');
    assert.deepEqual(r.tokenizer.info, { vocab_size: 4096, pad_id: 0, eos_id: 1, unk_id: 2 });
    assert.match(r.tokenizer.spm_conversion_agrees, /^(\d+) of \1$/);
    assert.match(r.tokenizer.refusals.vocab_exceeds_embedding ?? '', /umt5-test\/tokenizer\.json: 4096 token ids .* 1000 rows/);
    assert.match(r.tokenizer.refusals.special_ids_differ ?? '', /bad\/tokenizer\.json: <pad> has id 1; expected 0/);
    assert.match(r.tokenizer.refusals.no_folder ?? '', /not a folder/);
    assert.ok(r.tokenizer.not_written_when_refused);
  });
});
