/**
 * Prompt encoding: each text encoder's tokenizer.json (read with `tokenizers`, Hugging Face's Node
 * binding of the Rust library Python's tokenizers run, so ids match the reference exactly; the
 * only module that imports it) and its graph. For each encoder: prompt → cleaned text (clean) →
 * ids [B, L_e] (refused or truncated past L_e, overflow; refused when the tokenizer does not know
 * a word, unknown) → its outputs. The token sequences are joined along the tokens into the
 * transformer's text [B, L, D] with the padding mask [B, L]; the pooled vectors are joined along
 * their width into pooled [B, P] (docs/model-pack.md 2.6, 5).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Tokenizer as RustTokenizer } from 'tokenizers';
import type { Tensor } from '../media/tensor.js';
import { textEncoders, type EncoderPlan, type Manifest } from './manifest.js';
import type { OnnxGraph } from './ort.js';
import { port } from './ports.js';
import { cleanPrompt } from './prompt-clean.js';

/** Where the text layer sends things worth telling the user (it never prints). */
export interface TextWarnings {
  readonly onWarning?: (message: string) => void;
}

/** A batch of prompts as the transformer takes them. */
export interface TextBatch {
  /** embeddings [B, L, D] */
  readonly text: Tensor;
  /** 1 for each prompt's real tokens (special tokens included), 0 for padding: [B, L] */
  readonly mask: Tensor;
  /** the pooled vector [B, P] (text.pooledDim), else null */
  readonly pooled: Tensor | null;
}

/** One prompt's token ids, right-padded to L, and how many of them are real tokens. */
export interface PromptTokens {
  readonly ids: number[];
  readonly length: number;
  /** the token count before truncation, when the prompt was truncated to L */
  readonly truncatedFrom?: number;
}

export interface TextEncoder {
  /**
   * Token ids of one prompt for the pack's first text encoder (its only one in a single-encoder
   * pack), right-padded with padId to L (its cleaning, limit and unknown-word rules apply).
   */
  tokenize(prompt: string): Promise<number[]>;
  /** Token ids for the first text encoder with the count of real ones; a truncated prompt is reported once through `warn`. */
  tokens(prompt: string, warn?: TextWarnings): Promise<PromptTokens>;
  /** Embeddings of several prompts: [B, L, D]. */
  encode(prompts: readonly string[], warn?: TextWarnings): Promise<Tensor>;
  /** Embeddings, padding mask and pooled vector of several prompts. */
  embed(prompts: readonly string[], warn?: TextWarnings): Promise<TextBatch>;
}

type TokenizerJson = { model?: { type?: string; unk_token?: string | null; unk_id?: number | null } };

// the package is CommonJS with a native addon
const { Tokenizer } = createRequire(import.meta.url)('tokenizers') as typeof import('tokenizers');

/** One encoding's ids, with or without the post-processor's special tokens. */
async function encodeIds(tokenizer: RustTokenizer, text: string, addSpecialTokens = true): Promise<number[]> {
  return (await tokenizer.encode(text, null, { addSpecialTokens })).getIds();
}

/** The tokenizer with the pack's rules for prompts. */
interface PromptReader {
  readonly tokenizer: RustTokenizer;
  /** the same tokenizer truncating to L as Hugging Face's does (special tokens kept), made on first use */
  truncating(): RustTokenizer;
  /** the encoder, its rules resolved */
  readonly spec: EncoderPlan;
  /** how messages name it: "this pack" (one encoder) or "this pack's t5 encoder" */
  readonly owner: string;
  /** the tokenizer's unknown-token id, if it has one */
  readonly unkId: number | undefined;
}

async function readPromptReader(spec: EncoderPlan, dir: string, several: boolean): Promise<PromptReader> {
  const tokenizerPath = join(dir, spec.tokenizer);
  let text: string;
  let json: TokenizerJson;
  let tokenizer: RustTokenizer;
  try {
    text = await readFile(tokenizerPath, 'utf8');
    json = JSON.parse(text) as TokenizerJson;
    tokenizer = Tokenizer.fromString(text);
    tokenizer.disableTruncation();
    tokenizer.disablePadding();
  } catch (err) {
    throw new Error(`Cannot read tokenizer ${tokenizerPath}: ${(err as Error).message}`);
  }
  let truncating: RustTokenizer | undefined; // only a pack that truncates, and only once a prompt is too long
  const model = json.model ?? {};
  const unkId = typeof model.unk_id === 'number' ? model.unk_id : typeof model.unk_token === 'string' ? (tokenizer.tokenToId(model.unk_token) ?? undefined) : undefined;
  return {
    tokenizer,
    truncating() {
      if (!truncating) {
        truncating = Tokenizer.fromString(text);
        truncating.setTruncation(spec.maxTokens);
        truncating.disablePadding();
      }
      return truncating;
    },
    spec,
    owner: several ? `this pack's ${spec.name} encoder` : 'this pack',
    unkId,
  };
}

/** A reader for each of the pack's text encoders, in order (only the one named `only`, when given). */
async function readPromptReaders(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string, only?: string): Promise<PromptReader[]> {
  const encoders = textEncoders(m).filter((e) => only === undefined || e.name === only);
  const several = m.text?.encoders !== undefined;
  return Promise.all(encoders.map((e) => readPromptReader(e, dir, several)));
}

/** A prompt quoted for a message: whole up to 80 characters, else its start and its length. */
export function quotedPrompt(prompt: string): string {
  const chars = [...prompt];
  return chars.length <= 80 ? JSON.stringify(prompt) : `${JSON.stringify(chars.slice(0, 80).join(''))}… (${chars.length} characters)`;
}

/**
 * The words of `text` (runs of non-space characters) whose tokens hold the unknown id, with
 * their character offsets [start, end).
 */
async function unknownWords(r: PromptReader, text: string): Promise<{ word: string; start: number; end: number }[]> {
  const out: { word: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(/\S+/gu)) {
    const ids = await encodeIds(r.tokenizer, m[0], false);
    if (ids.includes(r.unkId!)) out.push({ word: m[0], start: m.index, end: m.index + m[0].length });
  }
  return out;
}

async function refuseUnknown(r: PromptReader, text: string, ids: readonly number[], what: string): Promise<never> {
  const words = await unknownWords(r, text);
  const unk = r.tokenizer.idToToken(r.unkId!) ?? `id ${r.unkId}`;
  const cleaned = r.spec.clean === 'none' ? '' : ' of the cleaned prompt';
  const named =
    words.length > 0
      ? `${words.length === 1 ? 'a word' : 'words'} ${r.owner === 'this pack' ? "this pack's" : `${r.owner}'s`} tokenizer does not know: ${words.map((w) => `${JSON.stringify(w.word)} (characters ${w.start}–${w.end}${cleaned})`).join(', ')}`
      : `${ids.filter((id) => id === r.unkId).length} token(s) ${r.owner === 'this pack' ? "this pack's" : `${r.owner}'s`} tokenizer does not know`;
  throw new Error(
    `The ${what} ${quotedPrompt(text)} has ${named}; the model would read ${words.length === 1 ? 'it' : 'them'} as its unknown token ${unk}: rephrase or respell ${words.length === 1 ? 'it' : 'them'} with words the model knows`,
  );
}

/** One prompt's ids (unpadded) under the pack's rules; throws a message naming `what` when it is refused. */
async function promptIds(r: PromptReader, prompt: string, what: string): Promise<{ ids: number[]; truncatedFrom?: number }> {
  const text = cleanPrompt(r.spec.clean, prompt);
  const full = await encodeIds(r.tokenizer, text);
  const L = r.spec.maxTokens;
  let ids = full;
  let truncatedFrom: number | undefined;
  if (full.length > L) {
    if (r.spec.overflow === 'refuse') {
      throw new Error(`The ${what} ${quotedPrompt(prompt)} has ${full.length} tokens but ${r.owner} reads at most ${L}: shorten it`);
    }
    // the prompt's own tokens are cut so that the post-processor's special tokens (e.g. a final EOS) still fit
    ids = await encodeIds(r.truncating(), text);
    if (ids.length > L) throw new Error(`The ${what} cannot be truncated to ${L} tokens: the tokenizer ${r.spec.tokenizer} adds more special tokens than that by itself`);
    truncatedFrom = full.length;
  }
  if (r.spec.unknown === 'refuse' && r.unkId !== undefined && ids.includes(r.unkId)) await refuseUnknown(r, text, ids, what);
  return { ids, ...(truncatedFrom !== undefined ? { truncatedFrom } : {}) };
}

/**
 * Checks prompts against the pack's token limit and unknown-word rule with its tokenizer alone
 * (no graph is opened), so a refused prompt is refused before the pack loads or any media is
 * decoded. A prompt the pack truncates passes (the run warns about it).
 */
export async function assertPromptTokens(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string, prompts: readonly { text: string; what: string }[], encoder?: string): Promise<void> {
  for (const r of await readPromptReaders(m, dir, encoder)) for (const p of prompts) await promptIds(r, p.text, p.what);
}

/**
 * The token ids (unpadded) a text encoder of the pack (`encoder`: its name; default the first)
 * would be fed for each prompt: its cleaning, long-prompt and unknown-word rules applied, with
 * the tokenizer alone (no graph is opened).
 */
export async function promptTokenIds(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string, prompts: readonly string[], encoder?: string): Promise<number[][]> {
  const r = (await readPromptReaders(m, dir, encoder ?? textEncoders(m)[0]?.name))[0];
  if (!r) throw new Error(`The pack has no text encoder named "${encoder}" (it has ${textEncoders(m).map((e) => e.name).join(', ') || 'none'})`);
  const out: number[][] = [];
  for (const p of prompts) out.push((await promptIds(r, p, 'prompt')).ids);
  return out;
}

/** Joins tensors [B, n_i, ...rest] along axis 1 into [B, Σ n_i, ...rest]. */
function joinAxis1(parts: readonly Tensor[]): Tensor {
  if (parts.length === 1) return parts[0]!;
  const B = parts[0]!.shape[0]!;
  const row = (t: Tensor) => t.data.length / B; // values per batch item
  const total = parts.reduce((n, t) => n + row(t), 0);
  const data = new Float32Array(B * total);
  for (let b = 0, o = 0; b < B; b++) {
    for (const t of parts) {
      const n = row(t);
      data.set(t.data.subarray(b * n, (b + 1) * n), o);
      o += n;
    }
  }
  const rest = parts[0]!.shape.slice(2);
  return { data, shape: [B, parts.reduce((n, t) => n + t.shape[1]!, 0), ...rest] };
}

/** Reads the tokenizers and wraps the opened text-encoder graphs (`graphOf` gives each encoder's by name). */
export async function createTextEncoder(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string, graphOf: (encoder: string) => OnnxGraph): Promise<TextEncoder> {
  const readers = await readPromptReaders(m, dir);
  const warned = new Set<string>();

  const tokensOf = async (r: PromptReader, prompt: string, warn: TextWarnings = {}): Promise<PromptTokens> => {
    const { maxTokens: L, padId } = r.spec;
    const p = await promptIds(r, prompt, 'prompt');
    // once per prompt and encoder, to the first caller that listens
    const key = `${r.spec.name}\n${prompt}`;
    if (p.truncatedFrom !== undefined && warn.onWarning && !warned.has(key)) {
      warned.add(key);
      warn.onWarning(`The prompt ${quotedPrompt(prompt)} has ${p.truncatedFrom} tokens but ${r.owner} reads ${L}: the model sees its first ${L} tokens only`);
    }
    const length = p.ids.length;
    const ids = [...p.ids];
    while (ids.length < L) ids.push(padId);
    return { ids, length, ...(p.truncatedFrom !== undefined ? { truncatedFrom: p.truncatedFrom } : {}) };
  };

  const embed = async (prompts: readonly string[], warn: TextWarnings = {}): Promise<TextBatch> => {
    const B = prompts.length;
    const sequences: Tensor[] = []; // each [B, L_e, D]
    const masks: Tensor[] = []; // each [B, L_e]
    const pooled: Tensor[] = []; // each [B, P_e]
    for (const r of readers) {
      const { maxTokens: L, attentionMask, outputs } = r.spec;
      const ids = new BigInt64Array(B * L); // [B, L_e]
      const real = new BigInt64Array(B * L); // [B, L_e]: 1 real token, 0 padding
      const mask = new Float32Array(B * L); // [B, L_e]
      for (const [b, p] of prompts.entries()) {
        const t = await tokensOf(r, p, warn);
        t.ids.forEach((id, j) => (ids[b * L + j] = BigInt(id)));
        real.fill(1n, b * L, b * L + t.length);
        mask.fill(1, b * L, b * L + t.length);
      }
      const feeds = {
        [port.inputIds]: { dtype: 'int64' as const, data: ids, shape: [B, L] },
        ...(attentionMask ? { [port.attentionMask]: { dtype: 'int64' as const, data: real, shape: [B, L] } } : {}),
      };
      const out = await graphOf(r.spec.name).run(feeds, outputs.map((o) => o.name));
      for (const o of outputs) {
        if (o.kind === 'sequence') {
          sequences.push(out[o.name]!); // [B, L_e, D]
          masks.push({ data: mask, shape: [B, L] });
        } else pooled.push(out[o.name]!); // [B, P_e]
      }
    }
    return { text: joinAxis1(sequences), mask: joinAxis1(masks), pooled: pooled.length > 0 ? joinAxis1(pooled) : null }; // [B, L, D], [B, L], [B, P]
  };

  return {
    tokenize: async (prompt) => (await tokensOf(readers[0]!, prompt)).ids,
    tokens: (prompt, warn) => tokensOf(readers[0]!, prompt, warn),
    embed,
    async encode(prompts, warn) {
      return (await embed(prompts, warn)).text; // [B, L, D]
    },
  };
}
