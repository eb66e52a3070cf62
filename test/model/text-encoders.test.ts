/**
 * Pack format 2 with several text encoders (text.encoders): the manifest's checks, the ports it
 * implies, and real ONNX sessions of tiny-v2 described as two encoders (a token sequence and a
 * pooled vector from one graph) giving exactly what its single-encoder form gives; sequences of
 * two encoders are joined along the tokens with their padding masks; each encoder's prompt rules
 * apply to it alone and are named in messages.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkManifest, textEncoders, textLayout, type Manifest } from '../../src/model/manifest.js';
import { openGraph, type OnnxGraph } from '../../src/model/ort.js';
import { loadPack, validatePack } from '../../src/model/pack.js';
import { graphSpecs } from '../../src/model/ports.js';
import { assertPromptTokens, createTextEncoder, promptTokenIds } from '../../src/model/text.js';
import { maxAbsDiff, noise, tempDir, TINY_V2 } from '../paths.js';

type Raw = Record<string, any>;

let single: Raw;
let graph: OnnxGraph;
before(async () => {
  single = JSON.parse(await readFile(join(TINY_V2, 'manifest.json'), 'utf8')) as Raw;
  graph = await openGraph(join(TINY_V2, 'text_encoder.onnx'), { threads: 1 });
});
after(() => graph.release());

/** tiny-v2's text encoder as one entry of text.encoders, with `outputs` and rule overrides. */
function entry(name: string, outputs: Raw[], rules: Raw = {}): Raw {
  const { encoder, tokenizer, maxTokens, padId, attentionMask, overflow, unknown, clean } = single.text;
  return { name, encoder, tokenizer, maxTokens, padId, attentionMask, overflow, unknown, clean, outputs, ...rules };
}
const SEQ = { name: 'text', kind: 'sequence', dim: 32, to: 'text' };
const POOLED = { name: 'pooled', kind: 'pooled', dim: 24, to: 'pooled' };

/** tiny-v2 as two encoders over its one graph: "seq" gives the token sequence, "vec" the pooled vector. */
function twoEncoders(rules: { seq?: Raw; vec?: Raw } = {}): Raw {
  return { ...single, text: { encoders: [entry('seq', [SEQ], rules.seq), entry('vec', [POOLED], rules.vec)], negativePrompt: single.text.negativePrompt } };
}

async function packWith(manifest: Raw): Promise<string> {
  const dir = join(await tempDir('flowedit-encoders-'), 'pack');
  await cp(TINY_V2, dir, { recursive: true });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

test('the several-encoders form is valid, and each of its fields is checked', () => {
  assert.deepEqual(checkManifest(twoEncoders()).problems, []);
  const m = twoEncoders();
  const bad = {
    ...m,
    text: {
      encoders: [
        { ...m.text.encoders[0], name: 'T5', maxTokens: 0, clean: 'ftfy', outputs: [{ ...SEQ, to: 'pooled' }, { ...SEQ, kind: 'row', dim: 0 }] },
        { ...m.text.encoders[1], name: 'vec', encoder: '../x.onnx', outputs: [] },
        { ...m.text.encoders[1], extra: 1 },
      ],
      maxTokens: 8,
    },
  };
  const problems: string[] = checkManifest(bad).problems;
  const expected = [
    'text.maxTokens: unknown key (allowed: encoders, negativePrompt)',
    'text.encoders[0].name: expected a name of lower-case letters, digits, \'_\' and \'-\' (e.g. "t5"), received "T5"',
    'text.encoders[0].maxTokens: expected an integer ≥ 1, received 0',
    'text.encoders[0].clean: expected one of "none", "wan", "clip", received "ftfy"',
    'text.encoders[0].outputs[0].to: a token sequence feeds the transformer\'s "text" input, received "pooled"',
    'text.encoders[0].outputs[1].name: "text" names two outputs of one graph',
    'text.encoders[0].outputs[1].kind: expected one of "sequence", "pooled", received "row"',
    'text.encoders[0].outputs[1].dim: expected an integer ≥ 1, received 0',
    'text.encoders[1].encoder: file "../x.onnx" must be relative to the pack folder and stay inside it',
    'text.encoders[1].outputs: expected a list of at least one output ({ "name", "kind", "dim", "to" }), received []',
    'text.encoders[2].extra: unknown key (allowed: name, encoder, tokenizer, maxTokens, padId, attentionMask, overflow, unknown, clean, outputs)',
    'text.encoders[2].name: "vec" names two encoders: give each its own name',
  ];
  for (const e of expected) assert.ok(problems.includes(e), `${e}\nin:\n${problems.join('\n')}`);
  assert.equal(problems.length, expected.length, problems.join('\n'));
  // no token sequence at all, and sequences of two widths
  assert.ok((checkManifest({ ...m, text: { encoders: [entry('vec', [POOLED])] } }).problems as string[]).includes('text.encoders: no output is a token sequence: at least one encoder must feed the transformer\'s "text" input'));
  const widths = checkManifest({ ...m, text: { encoders: [entry('a', [SEQ]), entry('b', [{ ...SEQ, dim: 16 }])] } }).problems;
  assert.deepEqual(widths, ['text.encoders: the token sequences are joined along the tokens, so they need one width; received dims 32, 16']);
  // format 1 has one encoder only
  const v1: string[] = checkManifest({ ...m, formatVersion: 1 }).problems;
  assert.ok(v1.includes('text.encoders: a formatVersion 2 field, but the manifest says formatVersion 1: set "formatVersion": 2 to use it'), v1.join('\n'));
});

test('the ports: the transformer takes the sequences joined (L added) and the pooled vectors joined (P added); one graph per encoder', () => {
  const m = twoEncoders();
  const joined = { ...m, text: { encoders: [entry('a', [SEQ, POOLED]), entry('b', [SEQ, POOLED], { maxTokens: 5 })] } };
  const manifest = checkManifest(joined).manifest!;
  assert.deepEqual(textLayout(manifest), { L: 13, D: 32, P: 48 });
  const [tr, a, b] = graphSpecs(manifest);
  const shown = (ps: readonly { name: string; dtype: string; shape: readonly (string | number)[] }[]) => ps.map((p) => `${p.name} ${p.dtype} [${p.shape.join(', ')}]`);
  assert.deepEqual(shown(tr!.inputs.slice(2, 5)), ['text float32 [B, 13, 32]', 'text_mask float32 [B, 13]', 'pooled float32 [B, 48]']);
  assert.deepEqual([a!.encoder, b!.encoder], ['a', 'b']);
  assert.deepEqual(shown(b!.inputs), ['input_ids int64 [B, 5]', 'attention_mask int64 [B, 5]']);
  assert.deepEqual(shown(b!.outputs), ['text float32 [B, 5, 32]', 'pooled float32 [B, 24]']);
  // the single form reads as one encoder named "text"
  const one = textEncoders(checkManifest(single).manifest!);
  assert.deepEqual(one.map((e) => [e.name, e.outputs.map((o) => o.name)]), [['text', ['text', 'pooled']]]);
});

test('tiny-v2 as two encoders validates and gives the single form\'s text, mask, pooled vector and velocity exactly', async () => {
  const dir = await packWith(twoEncoders());
  assert.deepEqual(await validatePack(dir), []);
  const two = await loadPack(dir, { threads: 1 });
  const one = await loadPack(TINY_V2, { threads: 1 });
  try {
    const prompts = ['a red circle on stripes', ''];
    const [a, b] = [await one.text!.embed(prompts), await two.text!.embed(prompts)];
    assert.deepEqual(b.text.shape, a.text.shape);
    assert.equal(maxAbsDiff(a.text.data, b.text.data), 0);
    assert.deepEqual([...b.mask.data], [...a.mask.data]);
    assert.equal(maxAbsDiff(a.pooled!.data, b.pooled!.data), 0);
    const latents = noise([2, 4, 1, 8, 8], 3);
    const run = (p: typeof one, t: typeof a) => p.transformer.forward({ latents, t: 0.6, text: t.text, textMask: t.mask, pooled: t.pooled! });
    assert.equal(maxAbsDiff((await run(one, a)).velocity.data, (await run(two, b)).velocity.data), 0);
  } finally {
    await two.release();
    await one.release();
  }
});

test('two token sequences are joined along the tokens, each with its own padding and mask', async () => {
  // encoder b reads the prompt uncleaned, keeping what it does not know (tiny-v2's graph takes 8 tokens, so both read 8)
  const m = checkManifest({ ...single, text: { encoders: [entry('a', [SEQ]), entry('b', [SEQ], { clean: 'none', unknown: 'keep' })] } }).manifest!;
  const enc = await createTextEncoder(m, TINY_V2, () => graph);
  const prompts = ['a red circle', 'a blue star&#32;on dots'];
  const batch = await enc.embed(prompts);
  assert.deepEqual(batch.text.shape, [2, 16, 32]);
  assert.equal(batch.pooled, null, 'no encoder declares a pooled output');
  const direct = async (name: string, p: string) => {
    const ids = (await promptTokenIds(m, TINY_V2, [p], name))[0]!;
    const padded = [...ids, ...new Array<number>(8 - ids.length).fill(0)];
    const mask = padded.map((_, j) => (j < ids.length ? 1 : 0));
    const out = await graph.run(
      { input_ids: { dtype: 'int64', data: new BigInt64Array(padded.map(BigInt)), shape: [1, 8] }, attention_mask: { dtype: 'int64', data: new BigInt64Array(mask.map(BigInt)), shape: [1, 8] } },
      ['text'],
    );
    return { text: out.text!.data, mask };
  };
  const masks: number[] = [];
  for (const [b, p] of prompts.entries()) {
    const [a, c] = [await direct('a', p), await direct('b', p)];
    // rows 0–7 are encoder a's, rows 8–15 encoder b's
    assert.equal(maxAbsDiff(batch.text.data.subarray(b * 512, b * 512 + 256), a.text), 0, `item ${b}: encoder a`);
    assert.equal(maxAbsDiff(batch.text.data.subarray(b * 512 + 256, (b + 1) * 512), c.text), 0, `item ${b}: encoder b`);
    masks.push(...a.mask, ...c.mask);
  }
  assert.deepEqual([...batch.mask.data], masks);
  assert.ok(maxAbsDiff(batch.text.data.subarray(512, 768), batch.text.data.subarray(768, 1024)) > 1e-3, 'the second prompt reads differently cleaned and uncleaned');
});

test("each encoder's rules apply to it alone, and messages name the encoder", async () => {
  const long = 'a red circle on stripes and a blue star on dots and a green square';
  const m = checkManifest(twoEncoders({ seq: { overflow: 'truncate' }, vec: { overflow: 'refuse' } })).manifest! as Manifest;
  await assert.rejects(assertPromptTokens(m, TINY_V2, [{ text: long, what: 'target prompt' }]), /^Error: The target prompt ".*" has \d+ tokens but this pack's vec encoder reads at most 8: shorten it$/);
  const dir = await packWith(twoEncoders({ seq: { overflow: 'truncate' }, vec: { overflow: 'truncate' } }));
  const pack = await loadPack(dir, { threads: 1 });
  try {
    const warnings: string[] = [];
    await pack.text!.embed([long], { onWarning: (w) => warnings.push(w) });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /this pack's seq encoder reads 8: the model sees its first 8 tokens only/);
    assert.match(warnings[1]!, /this pack's vec encoder reads 8/);
  } finally {
    await pack.release();
  }
  // a missing tokenizer is named with its encoder
  const gone = await packWith({ ...twoEncoders(), text: { encoders: [entry('seq', [SEQ]), entry('vec', [POOLED], { tokenizer: 'vec_tokenizer.json' })] } });
  assert.deepEqual(await validatePack(gone), ['vec_tokenizer.json: file not found (the tokenizer of text encoder vec)']);
});
