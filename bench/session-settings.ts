/**
 * onnxruntime session settings against one edit step on the CPU: the reconstruction path's call
 * (B = 1, fetching its keys/values) and the edit path's (B = 2 with classifier-free guidance,
 * attending to them), on the built-in pack (a 128×128 still and a 17-frame clip) and the fixture
 * packs. Each setting is changed alone from the defaults (src/model/ort.ts SESSION_DEFAULTS, all
 * cores); the settings' sessions are open side by side and measured in turns, so a busy moment of
 * the machine falls on all of them. Also: a session per path instead of one, and one call of
 * B = 2 against two of B = 1 (what batching the paths would gain; the edit path needs the
 * reconstruction's keys of the same step, so the two cannot simply be batched).
 * Usage: npm run bench:settings -- [--rounds N] [--case still|clip|tiny|tiny-pixel]
 * Prints a table of milliseconds per step (median over the rounds); asserts nothing.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Tensor } from '../src/media/tensor.js';
import { builtinPackDir } from '../src/model/builtin.js';
import type { Manifest } from '../src/model/manifest.js';
import { openGraph, SESSION_DEFAULTS, type OnnxGraph, type SessionTuning } from '../src/model/ort.js';
import { readPack } from '../src/model/pack.js';
import { Transformer, type LayerKV } from '../src/model/transformer.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, case: { type: 'string', multiple: true } } });
const ROUNDS = Number(values.rounds);
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/packs/', import.meta.url));
const CORES = availableParallelism();

interface Case {
  readonly name: string;
  readonly dir: string;
  /** latent [C, F', H', W'] */
  readonly latent: (m: Manifest) => number[];
  /** steps per measurement */
  readonly steps: number;
}

const still = (m: Manifest, frames = 1): number[] => {
  const [w, h] = m.image.defaultSize ?? [64, 64];
  const s = m.latent.spatialCompression;
  return [m.latent.channels, frames, h / s, w / s];
};

const CASES: Case[] = [
  { name: 'still', dir: builtinPackDir(), latent: (m) => still(m), steps: 10 },
  { name: 'clip', dir: builtinPackDir(), latent: (m) => still(m, 17), steps: 2 },
  { name: 'tiny', dir: `${FIXTURES}tiny`, latent: (m) => still(m), steps: 10 },
  { name: 'tiny-pixel', dir: `${FIXTURES}tiny-pixel`, latent: (m) => still(m), steps: 10 },
];

interface Variant {
  readonly name: string;
  readonly threads: number;
  readonly tuning: SessionTuning;
  /** a second session for the edit path */
  readonly perPath?: boolean;
}

const VARIANTS: Variant[] = [
  { name: `defaults (${CORES} threads)`, threads: CORES, tuning: {} },
  { name: '1 thread', threads: 1, tuning: {} },
  ...(CORES > 2 ? [{ name: '2 threads', threads: 2, tuning: {} }] : []),
  { name: 'no spinning', threads: CORES, tuning: { spinning: !SESSION_DEFAULTS.spinning } },
  { name: '1 thread, no spinning', threads: 1, tuning: { spinning: false } },
  { name: 'optimisation basic', threads: CORES, tuning: { optimization: 'basic' } },
  { name: 'optimisation extended', threads: CORES, tuning: { optimization: 'extended' } },
  { name: 'optimisation all', threads: CORES, tuning: { optimization: 'all' } },
  { name: `memory arena ${SESSION_DEFAULTS.memArena ? 'off' : 'on'}`, threads: CORES, tuning: { memArena: !SESSION_DEFAULTS.memArena } },
  { name: `memory pattern ${SESSION_DEFAULTS.memPattern ? 'off' : 'on'}`, threads: CORES, tuning: { memPattern: !SESSION_DEFAULTS.memPattern } },
  { name: 'dynamic block base 4', threads: CORES, tuning: { dynamicBlockBase: 4 } },
  { name: 'parallel execution, 2 inter-op', threads: CORES, tuning: { executionMode: 'parallel', interOpThreads: 2 } },
  { name: 'a session per path', threads: CORES, tuning: {}, perPath: true },
];

function random(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return { data, shape };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Opened {
  readonly variant: Variant;
  readonly rec: Transformer;
  readonly edit: Transformer;
  readonly graphs: OnnxGraph[];
}

async function main(): Promise<void> {
  const chosen = values.case ? CASES.filter((c) => values.case!.includes(c.name)) : CASES;
  process.stdout.write(`onnxruntime session settings, ${CORES} cores, median ms per edit step (reconstruction call + edit call) over ${ROUNDS} rounds, each after a 100 ms pause and one unmeasured step\n`);
  for (const c of chosen) {
    const m = (await readPack(c.dir)).manifest;
    const file = `${c.dir}/${m.transformer.file}`;
    const latent = c.latent(m);
    const Be = m.transformer.guidance === 'cfg' ? 2 : 1;
    const L = m.text?.maxTokens ?? 0;
    const D = m.text?.dim ?? 0;
    const opened: Opened[] = [];
    for (const v of VARIANTS) {
      const g1 = await openGraph(file, { threads: v.threads, tuning: v.tuning });
      const g2 = v.perPath ? await openGraph(file, { threads: v.threads, tuning: v.tuning }) : g1;
      opened.push({ variant: v, rec: new Transformer(m, g1), edit: new Transformer(m, g2), graphs: v.perPath ? [g1, g2] : [g1] });
    }
    const x1 = random([1, ...latent], 1);
    const x2 = random([Be, ...latent], 2);
    const text1 = random([1, L, D], 3);
    const text2 = random([Be, L, D], 4);
    const layers = m.transformer.contextLayers;
    const S = opened[0]!.rec.sequence(x1.shape).length;
    const bias = new Map(layers.map((i) => [i, new Float32Array(Be * 2 * S)]));
    const step = async (o: Opened): Promise<void> => {
      const r = await o.rec.forward({ latents: x1, t: 0.5, text: text1, guidance: 3, fetchKV: layers });
      await o.edit.forward({ latents: x2, t: 0.5, text: text2, guidance: 3, context: r.kv as ReadonlyMap<number, LayerKV>, bias });
    };
    // batching: two calls of B = 1 against one of B = 2, no context
    const xb = random([2, ...latent], 5);
    const tb = random([2, L, D], 6);
    const two = async (o: Opened) => {
      await o.rec.forward({ latents: x1, t: 0.5, text: text1, guidance: 3 });
      await o.rec.forward({ latents: x1, t: 0.5, text: text1, guidance: 3 });
    };
    const batched = async (o: Opened) => {
      await o.rec.forward({ latents: xb, t: 0.5, text: tb, guidance: 3 });
    };
    const times = new Map<string, number[]>();
    const measure = async (name: string, o: Opened, fn: (o: Opened) => Promise<void>) => {
      // a pause first: the threads of the session measured before stop spinning and sleep
      await new Promise((r) => setTimeout(r, 100));
      await fn(o);
      const t0 = performance.now();
      for (let s = 0; s < c.steps; s++) await fn(o);
      (times.get(name) ?? times.set(name, []).get(name)!).push((performance.now() - t0) / c.steps);
    };
    for (const o of opened) await step(o); // warm-up
    const base = opened[0]!;
    await two(base);
    await batched(base);
    for (let round = 0; round < ROUNDS; round++) {
      for (const o of opened) await measure(o.variant.name, o, step);
      await measure('2 calls of B = 1 (no context)', base, two);
      await measure('1 call of B = 2 (no context)', base, batched);
    }
    const ref = median(times.get(base.variant.name)!);
    process.stdout.write(`\n${m.id} ${c.name}: latent [${latent.join(', ')}], S = ${S} tokens, edit path B = ${Be}\n`);
    const width = Math.max(...[...times.keys()].map((k) => k.length));
    for (const [name, ts] of times) {
      const ms = median(ts);
      const rel = name.includes('no context') ? '' : `  ${((100 * ms) / ref).toFixed(0).padStart(4)}%`;
      process.stdout.write(`  ${name.padEnd(width)}  ${ms.toFixed(2).padStart(9)} ms${rel}   (best ${Math.min(...ts).toFixed(1)}, worst ${Math.max(...ts).toFixed(1)})\n`);
    }
    for (const o of opened) for (const g of o.graphs) await g.release();
  }
}

await main();
