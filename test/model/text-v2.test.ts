/**
 * Pack format 2 through real ONNX sessions of the tiny-v2 fixture: the attention_mask, text_mask
 * and pooled ports reach their graphs, long prompts are truncated or refused, unknown words are
 * refused by name, prompts are cleaned, and the latent is normalised per channel.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openGraph, type OnnxGraph } from '../../src/model/ort.js';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import { assertPromptTokens } from '../../src/model/text.js';
import { maxAbsDiff, noise, tempDir, TINY, TINY_V2 } from '../paths.js';

let v2: LoadedPack;
let v1: LoadedPack;
let textGraph: OnnxGraph;
before(async () => {
  v2 = await loadPack(TINY_V2, { threads: 1 });
  v1 = await loadPack(TINY, { threads: 1 });
  textGraph = await openGraph(join(TINY_V2, 'text_encoder.onnx'), { threads: 1 });
});
after(async () => {
  await v2.release();
  await v1.release();
  await textGraph.release();
});

/** A copy of tiny-v2 whose manifest's text section is changed by `text`. */
async function variant(text: Record<string, unknown>): Promise<string> {
  const dir = join(await tempDir('flowedit-v2-'), 'pack');
  await cp(TINY_V2, dir, { recursive: true });
  const m = JSON.parse(await readFile(join(TINY_V2, 'manifest.json'), 'utf8'));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...m, text: { ...m.text, ...text } }));
  return dir;
}

const EOS = 2;
const UNK = 1;

test('the padding mask counts the real tokens, [EOS] included; padded rows of the text come back zero', async () => {
  const t = (await v2.text!.tokens('a red circle'));
  assert.equal(t.length, 4);
  assert.equal(t.ids[3], EOS, 'the post-processor ends the prompt with [EOS]');
  assert.deepEqual(t.ids.slice(4), [0, 0, 0, 0]);
  const b = await v2.text!.embed(['a red circle', '']);
  assert.deepEqual(b.text.shape, [2, 8, 32]);
  assert.deepEqual([...b.mask.data], [1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  for (let row = 0; row < 16; row++) {
    const values = b.text.data.subarray(row * 32, (row + 1) * 32);
    if (b.mask.data[row] === 0) assert.ok(values.every((v) => v === 0), `padding row ${row} is zero`);
    else assert.ok(values.some((v) => v !== 0), `token row ${row} is not`);
  }
});

test('attention_mask reaches the text-encoder graph: another mask over the same ids changes the text and the pooled vector', async () => {
  const ids = new BigInt64Array((await v2.text!.tokens('a red circle on stripes')).ids.map(BigInt)); // [1, 8]
  const run = (mask: number[]) =>
    textGraph.run(
      { input_ids: { dtype: 'int64', data: ids, shape: [1, 8] }, attention_mask: { dtype: 'int64', data: new BigInt64Array(mask.map(BigInt)), shape: [1, 8] } },
      ['text', 'pooled'],
    );
  const full = await run([1, 1, 1, 1, 1, 1, 0, 0]);
  const short = await run([1, 1, 1, 0, 0, 0, 0, 0]);
  assert.ok(maxAbsDiff(full.text!.data.subarray(0, 3 * 32), short.text!.data.subarray(0, 3 * 32)) > 1e-3, 'the first tokens see fewer keys');
  assert.ok(short.text!.data.subarray(3 * 32).every((v) => v === 0), 'rows the mask drops are zero');
  assert.ok(maxAbsDiff(full.pooled!.data, short.pooled!.data) > 1e-3);
  // what flowedit feeds is that graph's output for the prompt's own mask
  const embedded = await v2.text!.embed(['a red circle on stripes']);
  assert.equal(maxAbsDiff(embedded.text.data, full.text!.data), 0);
  assert.equal(maxAbsDiff(embedded.pooled!.data, full.pooled!.data), 0);
});

test('the pooled vector is per prompt, and a format 1 pack has none', async () => {
  const b = await v2.text!.embed(['a red circle', 'a blue star on dots']);
  assert.deepEqual(b.pooled!.shape, [2, 24]);
  assert.ok(maxAbsDiff(b.pooled!.data.subarray(0, 24), b.pooled!.data.subarray(24)) > 1e-3);
  assert.equal((await v1.text!.embed(['a red circle'])).pooled, null);
});

test('text_mask and pooled reach the transformer: each changes the velocity, and each is required', async () => {
  const b = await v2.text!.embed(['a red circle']);
  const x = noise([1, 4, 1, 8, 8], 1);
  const base = { latents: x, t: 0.6, text: b.text };
  const v = (await v2.transformer.forward({ ...base, textMask: b.mask, pooled: b.pooled! })).velocity;
  const allReal = { data: new Float32Array(8).fill(1), shape: [1, 8] };
  const unmasked = (await v2.transformer.forward({ ...base, textMask: allReal, pooled: b.pooled! })).velocity;
  assert.ok(maxAbsDiff(v.data, unmasked.data) > 1e-4, 'padded text keys are masked only when text_mask says so');
  const otherPooled = (await v2.text!.embed(['a blue star on dots'])).pooled!;
  const repooled = (await v2.transformer.forward({ ...base, textMask: b.mask, pooled: otherPooled })).velocity;
  assert.ok(maxAbsDiff(v.data, repooled.data) > 1e-4, 'the pooled vector conditions the transformer');
  await assert.rejects(v2.transformer.forward({ ...base, pooled: b.pooled! }), /needs the text padding mask \[B, L\] \(transformer\.textMask\)/);
  await assert.rejects(v2.transformer.forward({ ...base, textMask: b.mask }), /needs the pooled text vector \[B, 24\] \(text\.pooledDim\)/);
});

test('overflow "truncate": a long prompt keeps its first tokens and the final [EOS], with one warning', async () => {
  const long = 'a red circle on stripes with a big blue square';
  const warnings: string[] = [];
  const warn = { onWarning: (m: string) => warnings.push(m) };
  await v2.text!.tokens(long); // a caller that does not listen does not use up the warning
  const t = (await v2.text!.tokens(long, warn));
  assert.equal(t.length, 8);
  assert.equal(t.truncatedFrom, 11);
  const full = (await v2.text!.tokens('a red circle on stripes with a'));
  assert.deepEqual(t.ids.slice(0, 7), full.ids.slice(0, 7), 'the first L − 1 words');
  assert.equal(t.ids[7], EOS, 'and the [EOS] the post-processor adds, as the Hugging Face truncation keeps it');
  await v2.text!.embed([long, ''], warn);
  assert.deepEqual(warnings, ['The prompt "a red circle on stripes with a big blue square" has 11 tokens but this pack reads 8: the model sees its first 8 tokens only']);
  await assertPromptTokens(v2.manifest, v2.dir, [{ text: long, what: '--target-prompt' }]); // passes the early check
});

test('overflow "refuse" (format 1 behaviour): the count and the limit are named, before any graph loads', async () => {
  const dir = await variant({ overflow: 'refuse' });
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  await assert.rejects(
    assertPromptTokens(m, dir, [{ text: 'a red circle on stripes with a big blue square', what: '--target-prompt' }]),
    /^Error: The --target-prompt "a red circle on stripes with a big blue square" has 11 tokens but this pack reads at most 8: shorten it$/,
  );
  await assert.rejects(v1.text!.tokenize('a red circle on stripes with a big blue square'), /has 10 tokens but this pack reads at most 8/);
});

test('unknown "refuse": the words the tokenizer maps to [UNK] are named with their place; "keep" and format 1 keep [UNK]', async () => {
  await assert.rejects(
    v2.text!.tokens('a red zzzz on qqq stripes'),
    (err: Error) => {
      assert.match(err.message, /^The prompt "a red zzzz on qqq stripes" has words this pack's tokenizer does not know: "zzzz" \(characters 6–10 of the cleaned prompt\), "qqq" \(characters 14–17 of the cleaned prompt\); the model would read them as its unknown token \[UNK\]: rephrase or respell them/);
      return true;
    },
  );
  const dir = await variant({ unknown: 'refuse' });
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  await assert.rejects(assertPromptTokens(m, dir, [{ text: 'a zzzz', what: '--source-prompt' }]), /The --source-prompt "a zzzz" has a word this pack's tokenizer does not know: "zzzz"/);
  const keep = await loadPack(await variant({ unknown: 'keep' }), { threads: 1 });
  try {
    assert.equal((await keep.text!.tokens('a red zzzz')).ids[2], UNK);
  } finally {
    await keep.release();
  }
  assert.equal((await v1.text!.tokenize('A RED circle zzzz'))[3], UNK, 'format 1 keeps the unknown id, as before');
});

test('clean "wan": HTML entities and runs of white space are cleaned before tokenizing; "none" tokenizes the text as given', async () => {
  const messy = '  a&#32;red circle&amp;nbsp;on   stripes ';
  const cleaned = (await v2.text!.tokens(messy));
  assert.deepEqual(cleaned.ids, (await v2.text!.tokens('a red circle on stripes')).ids, 'entities unescaped twice, white space collapsed');
  const raw = await loadPack(await variant({ clean: 'none', unknown: 'keep' }), { threads: 1 });
  try {
    assert.notDeepEqual((await raw.text!.tokens(messy)).ids, cleaned.ids, 'uncleaned, the entities are tokens of their own');
  } finally {
    await raw.release();
  }
});
