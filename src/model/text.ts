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

/** Reads the tokenizer and wraps the opened text-encoder graph. */
export async function createTextEncoder(spec: NonNullable<Manifest['text']>, dir: string, graph: OnnxGraph): Promise<TextEncoder> {
  const tokenizerPath = join(dir, spec.tokenizer);
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(JSON.parse(await readFile(tokenizerPath, 'utf8')), {});
  } catch (err) {
    throw new Error(`Cannot read tokenizer ${tokenizerPath}: ${(err as Error).message}`);
  }
  const { maxTokens: L, padId } = spec;

  const tokenize = (prompt: string): number[] => {
    const ids = tokenizer.encode(prompt).ids;
    if (ids.length > L) {
      throw new Error(`The prompt "${prompt}" has ${ids.length} tokens but this pack reads at most ${L}: shorten it`);
    }
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
