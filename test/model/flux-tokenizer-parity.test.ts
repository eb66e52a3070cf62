/**
 * FLUX.1's two prompt paths in Node against its reference in Python, id for id.
 *
 * Python (python/tokenize_flux_prompts.py): transformers 4.x's slow CLIPTokenizer and T5Tokenizer
 * (legacy) as FLUX.1's reference runs them, written out in flowedit_export/flux/slow_tokenizers.py,
 * with truncation and padding as the reference does them; it also writes the pack's
 * clip_tokenizer.json / t5_tokenizer.json from the tokenizer folder (flowedit_export/flux/tokenizer.py).
 * Node: flowedit's own prompt path (promptTokenIds in src/model/text.ts) on those files: CLIP with
 * `clean: "clip"`, L = 77; T5 with `clean: "none"`, L = 512 and a short L; both `overflow: "truncate"`.
 *
 * Tokenizers: test/fixtures/tokenizers/clip-test and t5-test (small ones trained here, see their
 * READMEs). Prompts: the Wan parity prompts (accents, CJK, emoji, odd spaces, entities, control
 * characters, long prompts, …), prompts around what these two tokenizers treat specially (typed
 * special tokens in every case and context, Greek capitals, contractions), and mojibake prompts.
 *
 * CLIP agrees on every prompt (mojibake aside: ftfy's repair of it is not ported). T5 differs where
 * the `tokenizers` library cannot do what sentencepiece and the slow tokenizer do;
 * python/tokenize_flux_prompts.py names the cause for each such prompt (a prompt ending in a typed
 * </s>, float32 ties in sentencepiece's Viterbi, `tokenizers`' Precompiled normaliser on graphemes
 * of several characters, U+001C–U+001F beside a sentinel, control pieces made by the normalisation
 * map), and this test checks that Node differs exactly there and nowhere else.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cleanPrompt } from '../../src/model/prompt-clean.js';
import { promptTokenIds } from '../../src/model/text.js';
import { PYTHON, ROOT, tempDir } from '../paths.js';
import { fluxFuzzPrompts, fluxPrompts, mojibakePrompts, parityPrompts } from './tokenizer-prompts.js';

const run = promisify(execFile);

const FIXTURES = join(ROOT, 'test/fixtures/tokenizers');
const CLIP_L = 77;
const T5_LENGTHS = [512, 16] as const;

type Kind = 't5' | 'clip';

interface Reference {
  ids: Record<string, (number[] | null)[]>;
  refused: Record<string, string>;
  clean?: string[];
  known?: Record<string, string>;
  info: { vocab_size: number; pad_id: number; eos_id: number; unk_id: number; bos_id: number | null };
}

interface Job {
  kind: Kind;
  prompts: readonly string[];
  lengths: readonly number[];
  /** (clip) ftfy's fix_encoding, as the reference runs it; false: without */
  mojibakeRepair?: boolean;
}

/**
 * Runs the Python side on `jobs`, all in one process (it starts once); the pack tokenizer.json
 * of each kind lands in `dir` as <kind>_tokenizer.json. `name` keeps its files apart from another run's.
 */
async function pythonSide(name: string, jobs: readonly Job[], dir: string): Promise<Reference[]> {
  const spec = await Promise.all(jobs.map(async (job, i) => {
    const prompts = join(dir, `${name}-${i}-prompts.json`);
    await writeFile(prompts, JSON.stringify(job.prompts));
    const folder = join(FIXTURES, `${job.kind}-test`);
    return { kind: job.kind, folder, pack_out: join(dir, `${job.kind}_tokenizer.json`), prompts, max_tokens: job.lengths, mojibake_repair: job.mojibakeRepair ?? true };
  }));
  const file = join(dir, `${name}-jobs.json`);
  await writeFile(file, JSON.stringify(spec));
  try {
    const { stdout } = await run(PYTHON, [join(ROOT, 'python/tokenize_flux_prompts.py'), '--jobs', file], { cwd: join(ROOT, 'python'), maxBuffer: 1 << 28 });
    const refs = JSON.parse(stdout.trim().split('\n').pop()!) as Reference[];
    assert.equal(refs.length, jobs.length, `python/tokenize_flux_prompts.py answered ${refs.length} of ${jobs.length} jobs`);
    return refs;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    assert.fail(`python/tokenize_flux_prompts.py failed (it needs ftfy, regex, sentencepiece and tokenizers; set FLOWEDIT_PYTHON to an interpreter with them):\n${e.stderr ?? e.message}`);
  }
}

/** flowedit's ids for every prompt, padded to L, as a format 2 pack with this tokenizer reads them. */
async function nodeIds(dir: string, kind: Kind, L: number, padId: number, prompts: readonly string[]): Promise<number[][]> {
  const text = { encoder: `${kind}_encoder.onnx`, tokenizer: `${kind}_tokenizer.json`, maxTokens: L, dim: 1, padId, overflow: 'truncate', unknown: 'keep', clean: kind === 'clip' ? 'clip' : 'none' };
  // 'clip' is a value of the manifest's text.clean that src/model/manifest.ts declares elsewhere
  const ids = await promptTokenIds({ formatVersion: 2, text } as unknown as Parameters<typeof promptTokenIds>[0], dir, prompts);
  return ids.map((row) => [...row, ...new Array<number>(L - row.length).fill(padId)]);
}

function quoted(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
}

const PARITY = parityPrompts();
const FLUX = [...fluxPrompts(), ...fluxFuzzPrompts()];
const PROMPTS = [...PARITY, ...FLUX];

interface ClipReferences {
  /** as FLUX.1 runs it, and without ftfy's mojibake repair (which Node leaves out), on PROMPTS */
  full: Reference;
  plain: Reference;
  /** the prompts the repair changes */
  repaired: Set<number>;
  /** the same two on the mojibake prompts */
  mojibake: { repaired: Reference; plain: Reference };
}

// The references are computed once, by two Python processes started together (CLIP's four runs
// in one, T5's in the other); each test awaits what it compares with. The pack tokenizers land in `dir`.
let dir: string;
let clipRefs: Promise<ClipReferences>;
let t5Ref: Promise<Reference>;
before(async () => {
  dir = await tempDir('flowedit-fluxtok-');
  const mojibake = mojibakePrompts();
  clipRefs = pythonSide('clip', [
    { kind: 'clip', prompts: PROMPTS, lengths: [CLIP_L] },
    { kind: 'clip', prompts: PROMPTS, lengths: [CLIP_L], mojibakeRepair: false },
    { kind: 'clip', prompts: mojibake, lengths: [CLIP_L] },
    { kind: 'clip', prompts: mojibake, lengths: [CLIP_L], mojibakeRepair: false },
  ], dir).then(([full, plain, mojibakeFull, mojibakePlain]) => ({
    full: full!,
    plain: plain!,
    repaired: new Set(PROMPTS.map((_p, i) => i).filter((i) => full!.clean![i] !== plain!.clean![i])),
    mojibake: { repaired: mojibakeFull!, plain: mojibakePlain! },
  }));
  t5Ref = pythonSide('t5', [{ kind: 't5', prompts: PROMPTS, lengths: T5_LENGTHS }], dir).then(([ref]) => ref!);
  // a failure is reported by the tests that await the promise, not as an unhandled rejection
  clipRefs.catch(() => undefined);
  t5Ref.catch(() => undefined);
});
after(() => rm(dir, { recursive: true, force: true }));

test('the FLUX.1 parity prompts cover the cases', () => {
  assert.ok(PROMPTS.length >= 2400, `${PROMPTS.length} prompts`);
  for (const s of ['<|endoftext|>', '<|ENDOFTEXT|>', '＜｜endoftext｜＞', '</s>', '<extra_id_0>', '\u03a3', "'ſ", '\u0345']) {
    assert.ok(FLUX.some((p) => p.includes(s)), `a prompt holds ${JSON.stringify(s)}`);
  }
});

test('CLIP: cleanPrompt("clip", …) lower-cased equals the slow CLIPTokenizer\'s cleaning, mojibake repair aside: n of n', { timeout: 600_000 }, async (t) => {
  const { full, plain, repaired } = await clipRefs;
  const node = PROMPTS.map((p) => cleanPrompt('clip', p).toLowerCase());
  const agree = PROMPTS.filter((_p, i) => node[i] === full.clean![i]).length;
  t.diagnostic(`CLIP cleaning: ${agree} of ${PROMPTS.length} agree; the others are the ${repaired.size} fuzz prompts ftfy reads as mojibake and repairs`);
  assert.ok(PARITY.every((_p, i) => !repaired.has(i)), 'the parity prompts are not mojibake to ftfy');
  const wrong = PROMPTS.map((p, i) => ({ p, i })).filter(({ i }) => node[i] !== plain.clean![i]);
  assert.deepEqual(wrong.slice(0, 5).map(({ p, i }) => `${quoted(p)}: node ${quoted(cleanPrompt('clip', p))}, python ${quoted(plain.clean![i]!)}`), [], 'equal to the reference without the mojibake repair');
  assert.equal(cleanPrompt('clip', '  A  b\u3000<|endoftext|>  c '), 'A b<|endoftext|>c', 'each piece between special tokens stripped');
  assert.equal(cleanPrompt('clip', 'x <|EndOfText|>'), 'x <|endoftext|>', 'a special token the slow tokenizer meets is written as the token');
  assert.equal(cleanPrompt('clip', '!＜｜endoftext｜＞'), '!<|Endoftext|>', 'one it does not meet is kept from the tokenizer.json');
  assert.equal(cleanPrompt('clip', 'ΟΔΟΣ ΣΑ'), 'ΟΔΟς ΣΑ', 'final sigma');
});

test('CLIP: flowedit\'s prompt path gives the slow CLIPTokenizer\'s ids at L = 77, mojibake repair aside: n of n', { timeout: 600_000 }, async (t) => {
  const { full, plain, repaired } = await clipRefs;
  assert.deepEqual(full.info, { vocab_size: 2048, pad_id: 2047, eos_id: 2047, unk_id: 2047, bos_id: 2046 });
  const got = await nodeIds(dir, 'clip', CLIP_L, full.info.pad_id, PROMPTS);
  const differ = (ref: Reference) => PROMPTS.map((_p, i) => i).filter((i) => JSON.stringify(got[i]) !== JSON.stringify(ref.ids[String(CLIP_L)]![i]));
  const bad = differ(full);
  const truncated = full.ids[String(CLIP_L)]!.filter((ids) => ids![CLIP_L - 1] === full.info.eos_id && ids![CLIP_L - 2] !== full.info.eos_id).length;
  t.diagnostic(`CLIP L=${CLIP_L}: ${PROMPTS.length - bad.length} of ${PROMPTS.length} agree (${PARITY.length} parity prompts, ${FLUX.length} special-token and fuzz prompts; ${truncated} truncated to 77); the others are the ${repaired.size} fuzz prompts ftfy repairs as mojibake`);
  assert.ok(truncated > 20, 'some prompts are truncated to 77');
  assert.deepEqual(bad.filter((i) => !repaired.has(i)).slice(0, 4).map((i) => `${quoted(PROMPTS[i]!)}: node ${JSON.stringify(got[i]!.slice(0, 20))} python ${JSON.stringify(full.ids[String(CLIP_L)]![i]!.slice(0, 20))}`), []);
  assert.deepEqual(differ(plain).map((i) => quoted(PROMPTS[i]!)), [], 'equal to the reference without the mojibake repair on every prompt');
});

test('CLIP: on mojibake prompts Node equals the reference without ftfy\'s mojibake repair (not ported)', { timeout: 600_000 }, async (t) => {
  const list = mojibakePrompts();
  const { plain, repaired } = (await clipRefs).mojibake;
  const got = await nodeIds(dir, 'clip', CLIP_L, plain.info.pad_id, list);
  const want = plain.ids[String(CLIP_L)]!;
  const differ = list.filter((_p, i) => JSON.stringify(got[i]) !== JSON.stringify(repaired.ids[String(CLIP_L)]![i])).length;
  t.diagnostic(`mojibake: Node differs from the reference on ${differ} of ${list.length} (ftfy repairs them), and from the reference without the repair on none`);
  assert.ok(differ > 0, 'the mojibake prompts are mojibake to ftfy');
  assert.deepEqual(list.filter((_p, i) => JSON.stringify(got[i]) !== JSON.stringify(want[i])).map(quoted), []);
});

test('T5: flowedit\'s prompt path gives the slow T5Tokenizer\'s ids at L = 512 and 16, except where a named cause says why', { timeout: 600_000 }, async (t) => {
  const ref = await t5Ref;
  assert.deepEqual(ref.info, { vocab_size: 2100, pad_id: 0, eos_id: 1, unk_id: 2, bos_id: null });
  const known = ref.known!;
  const differing = new Set<number>();
  for (const L of T5_LENGTHS) {
    const want = ref.ids[String(L)]!;
    const got = await nodeIds(dir, 't5', L, ref.info.pad_id, PROMPTS);
    const compared = PROMPTS.map((_p, i) => i).filter((i) => want[i] !== null);
    const bad = compared.filter((i) => JSON.stringify(got[i]) !== JSON.stringify(want[i]));
    bad.forEach((i) => differing.add(i));
    const parity = compared.filter((i) => i < PARITY.length);
    t.diagnostic(
      `T5 L=${L}: ${compared.length - bad.length} of ${compared.length} agree (${PROMPTS.length - compared.length} prompts with lone surrogates the reference cannot encode); ` +
        `of the ${parity.length} parity prompts, ${parity.length - bad.filter((i) => i < PARITY.length).length}`,
    );
    if (L === 512) assert.ok(want.some((ids) => ids !== null && ids[L - 1] === ref.info.eos_id), 'some prompts are truncated to 512');
  }
  const causes = new Map<string, number>();
  for (const cause of Object.values(known)) causes.set(cause, (causes.get(cause) ?? 0) + 1);
  t.diagnostic(`T5 differences by cause: ${[...causes].map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`);
  const unexplained = [...differing].filter((i) => !known[String(i)] || known[String(i)] === 'unexplained');
  assert.deepEqual(unexplained.map((i) => quoted(PROMPTS[i]!)), [], 'every difference has a named cause');
  assert.deepEqual(Object.keys(known).map(Number).filter((i) => !differing.has(i)).map((i) => quoted(PROMPTS[i]!)), [], 'Node differs wherever the same library in Python does');
  assert.ok(PROMPTS.length - differing.size - Object.keys(ref.refused).length >= 1000, 'at least 1,000 prompts agree');
});
