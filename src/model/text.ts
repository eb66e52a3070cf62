/**
 * Prompt encoding: the pack's tokenizer.json (read with `tokenizers`, Hugging Face's Node binding
 * of the Rust library Python's tokenizers run, so ids match the reference exactly; the only
 * module that imports it) and its text-encoder graph. Prompt → cleaned text (text.clean) →
 * ids [B, L] (refused or truncated past L, text.overflow; refused when the tokenizer does not know
 * a word, text.unknown) → embeddings [B, L, D], with the padding mask [B, L] and, when the pack
 * has one, the pooled vector [B, P].
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Tokenizer as RustTokenizer } from 'tokenizers';
import type { Tensor } from '../media/tensor.js';
import { textRules, type Manifest, type TextSpec } from './manifest.js';
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
  /** Token ids of one prompt, right-padded with padId to L (the pack's cleaning, limit and unknown-word rules apply). */
  tokenize(prompt: string): Promise<number[]>;
  /** Token ids with the count of real ones; a truncated prompt is reported once through `warn`. */
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
  readonly spec: TextSpec;
  readonly rules: ReturnType<typeof textRules>;
  /** the tokenizer's unknown-token id, if it has one */
  readonly unkId: number | undefined;
}

async function readPromptReader(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string): Promise<PromptReader> {
  const spec = m.text!;
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
    rules: textRules(m),
    unkId,
  };
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
  const cleaned = r.rules.clean === 'none' ? '' : ' of the cleaned prompt';
  const named =
    words.length > 0
      ? `${words.length === 1 ? 'a word' : 'words'} this pack's tokenizer does not know: ${words.map((w) => `${JSON.stringify(w.word)} (characters ${w.start}–${w.end}${cleaned})`).join(', ')}`
      : `${ids.filter((id) => id === r.unkId).length} token(s) this pack's tokenizer does not know`;
  throw new Error(
    `The ${what} ${quotedPrompt(text)} has ${named}; the model would read ${words.length === 1 ? 'it' : 'them'} as its unknown token ${unk}: rephrase or respell ${words.length === 1 ? 'it' : 'them'} with words the model knows`,
  );
}

/** One prompt's ids (unpadded) under the pack's rules; throws a message naming `what` when it is refused. */
async function promptIds(r: PromptReader, prompt: string, what: string): Promise<{ ids: number[]; truncatedFrom?: number }> {
  const text = cleanPrompt(r.rules.clean, prompt);
  const full = await encodeIds(r.tokenizer, text);
  const L = r.spec.maxTokens;
  let ids = full;
  let truncatedFrom: number | undefined;
  if (full.length > L) {
    if (r.rules.overflow === 'refuse') {
      throw new Error(`The ${what} ${quotedPrompt(prompt)} has ${full.length} tokens but this pack reads at most ${L}: shorten it`);
    }
    // the prompt's own tokens are cut so that the post-processor's special tokens (e.g. a final EOS) still fit
    ids = await encodeIds(r.truncating(), text);
    if (ids.length > L) throw new Error(`The ${what} cannot be truncated to ${L} tokens: this pack's tokenizer adds more special tokens than that by itself`);
    truncatedFrom = full.length;
  }
  if (r.rules.unknown === 'refuse' && r.unkId !== undefined && ids.includes(r.unkId)) await refuseUnknown(r, text, ids, what);
  return { ids, ...(truncatedFrom !== undefined ? { truncatedFrom } : {}) };
}

/**
 * Checks prompts against the pack's token limit and unknown-word rule with its tokenizer alone
 * (no graph is opened), so a refused prompt is refused before the pack loads or any media is
 * decoded. A prompt the pack truncates passes (the run warns about it).
 */
export async function assertPromptTokens(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string, prompts: readonly { text: string; what: string }[]): Promise<void> {
  const r = await readPromptReader(m, dir);
  for (const p of prompts) await promptIds(r, p.text, p.what);
}

/**
 * The token ids (unpadded) the pack's text encoder would be fed for each prompt: its cleaning,
 * long-prompt and unknown-word rules applied, with the tokenizer alone (no graph is opened).
 */
export async function promptTokenIds(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string, prompts: readonly string[]): Promise<number[][]> {
  const r = await readPromptReader(m, dir);
  const out: number[][] = [];
  for (const p of prompts) out.push((await promptIds(r, p, 'prompt')).ids);
  return out;
}

/** Reads the tokenizer and wraps the opened text-encoder graph. */
export async function createTextEncoder(m: Pick<Manifest, 'formatVersion' | 'text'>, dir: string, graph: OnnxGraph): Promise<TextEncoder> {
  const r = await readPromptReader(m, dir);
  const { maxTokens: L, padId, attentionMask, pooledDim } = r.spec;
  const warned = new Set<string>();

  const tokens = async (prompt: string, warn: TextWarnings = {}): Promise<PromptTokens> => {
    const p = await promptIds(r, prompt, 'prompt');
    // once per prompt, to the first caller that listens
    if (p.truncatedFrom !== undefined && warn.onWarning && !warned.has(prompt)) {
      warned.add(prompt);
      warn.onWarning(`The prompt ${quotedPrompt(prompt)} has ${p.truncatedFrom} tokens but this pack reads ${L}: the model sees its first ${L} tokens only`);
    }
    const length = p.ids.length;
    const ids = [...p.ids];
    while (ids.length < L) ids.push(padId);
    return { ids, length, ...(p.truncatedFrom !== undefined ? { truncatedFrom: p.truncatedFrom } : {}) };
  };

  const embed = async (prompts: readonly string[], warn: TextWarnings = {}): Promise<TextBatch> => {
    const B = prompts.length;
    const ids = new BigInt64Array(B * L); // [B, L]
    const real = new BigInt64Array(B * L); // [B, L]: 1 real token, 0 padding
    const mask = new Float32Array(B * L); // [B, L]
    for (const [b, p] of prompts.entries()) {
      const t = await tokens(p, warn);
      t.ids.forEach((id, j) => (ids[b * L + j] = BigInt(id)));
      real.fill(1n, b * L, b * L + t.length);
      mask.fill(1, b * L, b * L + t.length);
    }
    const feeds = {
      [port.inputIds]: { dtype: 'int64' as const, data: ids, shape: [B, L] },
      ...(attentionMask ? { [port.attentionMask]: { dtype: 'int64' as const, data: real, shape: [B, L] } } : {}),
    };
    const out = await graph.run(feeds, pooledDim !== undefined ? [port.text, port.pooled] : [port.text]);
    return { text: out[port.text]!, mask: { data: mask, shape: [B, L] }, pooled: pooledDim !== undefined ? out[port.pooled]! : null }; // [B, L, D], [B, L], [B, P]
  };

  return {
    tokenize: async (prompt) => (await tokens(prompt)).ids,
    tokens,
    embed,
    async encode(prompts, warn) {
      return (await embed(prompts, warn)).text; // [B, L, D]
    },
  };
}
