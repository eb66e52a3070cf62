/**
 * An int8 copy of a pack: the transformer's matmul weights become per-column symmetric int8 with
 * the activations quantised at run time (quantize-graph.ts), the manifest records
 * `transformer.weights: "int8"`, and every other file (text encoders, VAE, tokenizer) is the
 * original's, hard-linked where it is large (pack-copy.ts). The ports are unchanged, so the copy
 * loads and runs wherever the original does. It is made in a temporary folder beside `outDir`
 * and renamed into place: a failure leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { copyPack } from './pack-copy.js';
import { MANIFEST_FILE, readPack } from './pack.js';
import { quantiseGraph, type LeftFloat, type QuantisedMatmul } from './quantize-graph.js';

export interface QuantizeProgress {
  readonly done: number;
  readonly total: number;
  readonly what: string;
}

export interface QuantizeOptions {
  readonly onProgress?: (e: QuantizeProgress) => void;
  /** replace `outDir` if it exists (after the new pack is complete); default: refuse */
  readonly replace?: boolean;
}

export interface QuantizeReport {
  readonly pack: string;
  readonly out: string;
  /** the graph files rewritten (relative to the pack) */
  readonly graphs: readonly string[];
  readonly quantised: readonly QuantisedMatmul[];
  /** weights (elements) now int8 */
  readonly weights: number;
  /** the rewritten graphs' bytes, before and after */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** matmuls left float32, and why */
  readonly leftFloat32: readonly LeftFloat[];
}

/** Thrown before any work when a pack cannot be quantised (already int8, float16, …). */
export class QuantizeRefusal extends Error {
  override readonly name = 'QuantizeRefusal';
}

/** Writes an int8 copy of the pack `packDir` to `outDir` (see the module comment). */
export async function quantizePack(packDir: string, outDir: string, opts: QuantizeOptions = {}): Promise<QuantizeReport> {
  const info = await readPack(packDir);
  const tr = info.manifest.transformer;
  const out = resolve(outDir);
  if (tr.weights === 'int8') throw new QuantizeRefusal(`Pack ${packDir} is already int8 (its manifest says transformer.weights "int8"): quantise the float32 pack it was made from`);
  if (tr.dtype === 'float16') throw new QuantizeRefusal(`Pack ${packDir} has a float16 transformer: int8 weights are made from float32 ones; quantise the float32 pack`);
  if (out === info.dir) throw new QuantizeRefusal(`The output folder is the pack itself (${out}): give another folder`);
  if (!opts.replace && (await stat(out).then(() => true, () => false))) throw new QuantizeRefusal(`Output folder ${out} already exists: remove it, or give another folder (or replace it: --force)`);
  const progress = opts.onProgress ?? (() => {});

  const src = join(info.dir, tr.file);
  progress({ done: 0, total: 1, what: `reading ${tr.file}` });
  const before = new Uint8Array(await readFile(src));
  const q = quantiseGraph(before, {
    onNode: (done, total, node) => progress({ done, total, what: node ? `quantising ${node}` : 'quantised' }),
  });
  if (q.quantised.length === 0) {
    const why = q.left.length ? q.left.slice(0, 3).map((l) => `${l.node}: ${l.why}`).join('; ') : 'the graph has no MatMul or Gemm';
    throw new QuantizeRefusal(`Nothing in ${src} can be made int8 (${why})`);
  }

  const temp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.int8.tmp`);
  try {
    progress({ done: 0, total: 1, what: 'writing the pack' });
    await copyPack(info.dir, temp);
    const dst = join(temp, tr.file);
    await unlink(dst); // a hard link to the original: never write through it
    await writeFile(dst, q.bytes);
    const manifestPath = join(temp, MANIFEST_FILE);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { transformer: Record<string, unknown> };
    manifest.transformer.weights = 'int8';
    await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    await readPack(temp); // the manifest as written is valid
    if (opts.replace) await rm(out, { recursive: true, force: true });
    await rename(temp, out);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  progress({ done: 1, total: 1, what: `wrote ${out}` });
  return {
    pack: info.dir,
    out,
    graphs: [tr.file],
    quantised: q.quantised,
    weights: q.quantised.reduce((a, m) => a + m.shape[0] * m.shape[1], 0),
    bytesBefore: before.length,
    bytesAfter: q.bytes.length,
    leftFloat32: q.left,
  };
}
