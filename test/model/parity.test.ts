/**
 * Parity of the exported ONNX graphs (run by onnxruntime-node through the model layer) with the
 * PyTorch modules they came from. python/parity_cases.py builds fresh models with
 * torch (the project's Python environment, python/setup.sh), exports them as packs and saves inputs with PyTorch's outputs; this test runs
 * every case. Error measure: ‖onnx − torch‖∞ / ‖torch‖∞ per output, at most 1e-4.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { openGraph, type Feed } from '../../src/model/ort.js';
import { validatePack } from '../../src/model/pack.js';
import { PYTHON, relativeError, ROOT, tempDir } from '../paths.js';

const run = promisify(execFile);

interface Port {
  dtype: 'float32' | 'int64';
  shape: number[];
  file: string;
}
interface Case {
  graph: 'transformer' | 'text_encoder' | 'vae_encoder' | 'vae_decoder';
  inputs: Record<string, Port>;
  outputs: Record<string, Port>;
}

const GRAPH_FILE: Record<Case['graph'], string> = {
  transformer: 'transformer.onnx',
  text_encoder: 'text_encoder.onnx',
  vae_encoder: 'vae_encoder.onnx',
  vae_decoder: 'vae_decoder.onnx',
};

type HostFeed = Exclude<Feed, { location: 'device' }>;

async function load(dir: string, p: Port): Promise<HostFeed> {
  const buf = await readFile(join(dir, p.file));
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return p.dtype === 'int64'
    ? { dtype: 'int64', data: new BigInt64Array(bytes), shape: p.shape }
    : { dtype: 'float32', data: new Float32Array(bytes), shape: p.shape };
}

/** Every case of every pack in `out`: each output within 1e-4 of PyTorch's (relative ∞-norm). */
async function runCases(out: string, validate: boolean): Promise<{ checked: number; worst: number; fed: Set<string>; compared: Set<string> }> {
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { packs: Record<string, string[]> };
  let checked = 0;
  let worst = 0;
  const fed = new Set<string>(); // every input port some case fed
  const compared = new Set<string>(); // every output port some case compared
  for (const [pack, cases] of Object.entries(summary.packs)) {
    const packDir = join(out, pack);
    if (validate) assert.deepEqual(await validatePack(packDir), [], `exported pack ${pack} validates`);
    for (const name of cases) {
      const caseDir = join(packDir, 'cases', name);
      const c = JSON.parse(await readFile(join(caseDir, 'case.json'), 'utf8')) as Case;
      const graph = await openGraph(join(packDir, GRAPH_FILE[c.graph]), { threads: 1 });
      const feeds: Record<string, Feed> = {};
      for (const [input, port] of Object.entries(c.inputs)) {
        feeds[input] = await load(caseDir, port);
        fed.add(`${pack}/${input}`);
      }
      const result = await graph.run(feeds, Object.keys(c.outputs));
      for (const [output, port] of Object.entries(c.outputs)) {
        const want = (await load(caseDir, port)).data as Float32Array;
        const got = result[output]!;
        assert.deepEqual(got.shape, port.shape, `${pack}/${name}/${output} shape`);
        const err = relativeError(got.data, want);
        worst = Math.max(worst, err);
        console.log(`parity ${pack}/${name}/${output}: ${err.toExponential(2)}`);
        assert.ok(err <= 1e-4, `${pack}/${name}/${output}: relative error ${err} > 1e-4`);
        checked += 1;
        compared.add(`${pack}/${output}`);
      }
      await graph.release();
    }
  }
  return { checked, worst, fed, compared };
}

async function writeCases(script: string): Promise<string> {
  const out = await tempDir('flowedit-parity-');
  try {
    await run(PYTHON, [join(ROOT, 'python', script), '--out', out], { cwd: ROOT, maxBuffer: 1 << 24 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    assert.fail(`python/${script} failed (it needs the project's Python environment: run python/setup.sh, or set FLOWEDIT_PYTHON to another interpreter):\n${e.stderr ?? e.message}`);
  }
  return out;
}

describe('parity with PyTorch (the two case sets run side by side)', { concurrency: 2 }, () => {
  test('ONNX graphs match PyTorch: velocity and k/v, with and without context, 1 and 3 frames, format 1 and 2 packs', { timeout: 600_000 }, async () => {
    const { checked, worst, fed, compared } = await runCases(await writeCases('parity_cases.py'), true);
    console.log(`parity: ${checked} outputs, worst relative error ${worst.toExponential(2)}`);
    assert.ok(checked >= 20, `expected at least 20 compared outputs, got ${checked}`);
    // the format 2 pack's own ports: the text encoder's attention_mask and pooled output, the transformer's text_mask and pooled input
    for (const p of ['tiny-v2/attention_mask', 'tiny-v2/text_mask', 'tiny-v2/pooled']) assert.ok(fed.has(p), `a case feeds ${p}`);
    assert.ok(compared.has('tiny-v2/pooled'), 'the pooled output is compared');
  });

  test('Wan2.1 graphs match PyTorch: velocity and every k/v with and without context, the UMT5 encoder, the causal VAE against its chunked encode/decode on 1, 5 and 9 frames', { timeout: 600_000 }, async () => {
    const { checked, worst, fed, compared } = await runCases(await writeCases('wan_parity_cases.py'), false);
    console.log(`parity (Wan2.1 tiny): ${checked} outputs, worst relative error ${worst.toExponential(2)}`);
    for (const output of ['velocity', 'k.0', 'v.0', 'k.1', 'v.1', 'text', 'mean', 'pixels']) assert.ok(compared.has(`wan-tiny/${output}`), `a case compares ${output}`);
    for (const input of ['ctx_k.1', 'ctx_bias.0', 'attention_mask', 'pixels', 'latents']) assert.ok(fed.has(`wan-tiny/${input}`), `a case feeds ${input}`);
  });
});
