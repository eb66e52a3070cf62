/**
 * Prompt encoding: the pack's tokenizer.json (read with @huggingface/tokenizers, the only
 * module that imports it) and its text-encoder graph. Prompt → ids [B, L] → embeddings [B, L, D].
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Tensor } from '../media/tensor.js';
import type { Manifest } from './manifest.js';
import type { OnnxGraph } from './ort.js';
import { port } from './ports.js';

export interface TextEncoder {
  /** Token ids of one prompt, right-padded with padId to L; a prompt of more than L tokens is refused. */
  tokenize(prompt: string): number[];
  /** Embeddings of several prompts: [B, L, D]. */
  encode(prompts: readonly string[]): Promise<Tensor>;
}

type TextSpec = NonNullable<Manifest['text']>;

async function readTokenizer(spec: TextSpec, dir: string): Promise<Tokenizer> {
  const tokenizerPath = join(dir, spec.tokenizer);
  try {
    return new Tokenizer(JSON.parse(await readFile(tokenizerPath, 'utf8')), {});
  } catch (err) {
    throw new Error(`Cannot read tokenizer ${tokenizerPath}: ${(err as Error).message}`);
  }
}

/** A prompt quoted for a message: whole up to 80 characters, else its start and its length. */
export function quotedPrompt(prompt: string): string {
  const chars = [...prompt];
  return chars.length <= 80 ? JSON.stringify(prompt) : `${JSON.stringify(chars.slice(0, 80).join(''))}… (${chars.length} characters)`;
}

/** A prompt's token ids, refused when there are more than the pack reads. */
function tokenIds(tokenizer: Tokenizer, spec: TextSpec, prompt: string, what = 'prompt'): number[] {
  const ids = tokenizer.encode(prompt).ids;
  if (ids.length > spec.maxTokens) {
    throw new Error(`The ${what} ${quotedPrompt(prompt)} has ${ids.length} tokens but this pack reads at most ${spec.maxTokens}: shorten it`);
  }
  return ids;
}

/**
 * Checks prompts against the pack's token limit with its tokenizer alone (no graph is opened),
 * so an over-long prompt is refused before the pack loads or any media is decoded.
 */
export async function assertPromptTokens(spec: TextSpec, dir: string, prompts: readonly { text: string; what: string }[]): Promise<void> {
  const tokenizer = await readTokenizer(spec, dir);
  for (const p of prompts) tokenIds(tokenizer, spec, p.text, p.what);
}

/** Reads the tokenizer and wraps the opened text-encoder graph. */
export async function createTextEncoder(spec: TextSpec, dir: string, graph: OnnxGraph): Promise<TextEncoder> {
  const tokenizer = await readTokenizer(spec, dir);
  const { maxTokens: L, padId } = spec;

  const tokenize = (prompt: string): number[] => {
    const ids = tokenIds(tokenizer, spec, prompt);
    while (ids.length < L) ids.push(padId);
    return ids;
  };

  return {
    tokenize,
    async encode(prompts) {
      const B = prompts.length;
      const ids = new BigInt64Array(B * L); // [B, L]
      prompts.forEach((p, b) => tokenize(p).forEach((id, j) => (ids[b * L + j] = BigInt(id))));
      const out = await graph.run({ [port.inputIds]: { dtype: 'int64', data: ids, shape: [B, L] } }, [port.text]);
      return out[port.text]!; // [B, L, D]
    },
  };
}
