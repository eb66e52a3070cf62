/** How many CPU threads a session computes on: the default, the explicit count, and a pool's share. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { withThreads } from '../../src/jobs/pool.js';
import { loadPack } from '../../src/model/pack.js';
import { squareMatmulModel } from '../../src/model/onnx-proto.js';
import { openGraph } from '../../src/model/ort.js';
import { cpuList, defaultThreads, physicalCores, sessionThreads, threadShare } from '../../src/model/threads.js';
import { ROOT } from '../paths.js';

/** CPU time (clock ticks, user + system) of each thread of this process, by thread id. */
function threadTicks(): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const id of readdirSync('/proc/self/task')) {
    try {
      // fields after the command's closing parenthesis: state is field 3, utime 14, stime 15
      const rest = readFileSync(`/proc/self/task/${id}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks.set(id, Number(rest[11]) + Number(rest[12]));
    } catch {
      // the thread ended while being read
    }
  }
  return ticks;
}

/**
 * Opens a 768² MatMul graph with `threads` (absent: the default), runs it 100 times and counts the
 * threads of this process that did at least a sixth of the busiest one's work meanwhile (read
 * before the session is released: its threads end with it).
 */
async function busyThreads(threads?: number): Promise<number> {
  const before = threadTicks();
  const n = 768;
  const graph = await openGraph(squareMatmulModel(n), { ...(threads ? { threads } : {}), label: 'matmul' });
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5); // [n, n]
  const feeds = { a: { dtype: 'float32' as const, data: a, shape: [n, n] }, b: { dtype: 'float32' as const, data: a, shape: [n, n] } };
  let gains: number[];
  try {
    for (let i = 0; i < 100; i++) await graph.run(feeds, ['y']);
    gains = [...threadTicks()].map(([id, t]) => t - (before.get(id) ?? 0));
  } finally {
    await graph.release();
  }
  const most = Math.max(...gains);
  assert.ok(most >= 20, `the matmuls took ${most} ticks on their busiest thread: too little to tell threads apart`);
  return gains.filter((g) => g >= most / 6).length;
}

describe('threads', () => {
  it('shares the threads among sessions side by side, at least one each', () => {
    assert.equal(threadShare(1, 2), 2);
    assert.equal(threadShare(2, 2), 1);
    assert.equal(threadShare(3, 2), 1);
    assert.equal(threadShare(3, 8), 2);
    assert.equal(threadShare(1), defaultThreads());
  });

  it('counts physical cores from the CPU topology: hyperthreads of one core once, only the CPUs allowed', () => {
    assert.deepEqual(cpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(cpuList('5\n'), [5]);
    assert.throws(() => cpuList('0-a'), /Not a CPU list/);
    // 2 packages × 2 cores × 2 threads: CPUs 0–3 on package 0 (cores 0, 1), 4–7 on package 1
    const topology = (allowed: string) => (path: string): string => {
      if (path === '/proc/self/status') return `Name:\tnode\nCpus_allowed_list:\t${allowed}\n`;
      const cpu = Number(/cpu(\d+)\/topology/.exec(path)![1]);
      if (path.endsWith('physical_package_id')) return `${cpu >> 2}\n`;
      if (path.endsWith('core_id')) return `${(cpu >> 1) & 1}\n`;
      throw new Error(`unexpected read ${path}`);
    };
    assert.equal(physicalCores(topology('0-7')), 4);
    assert.equal(physicalCores(topology('0-1')), 1);
    assert.equal(physicalCores(topology('0,2,4')), 3);
    assert.equal(physicalCores(() => { throw new Error('ENOENT'); }), null);
    assert.equal(physicalCores(() => 'Name:\tnode\n'), null);
    assert.ok(defaultThreads() >= 1);
    // where the topology reads (Linux), a session is given the physical cores; elsewhere onnxruntime counts
    const cores = physicalCores();
    assert.equal(sessionThreads(), cores === null ? undefined : Math.min(cores, defaultThreads()));
  });

  it("a pool's task gets its share of the cores unless it names its threads", () => {
    assert.deepEqual(withThreads({ packDir: 'p' }, 1), { packDir: 'p' }, "a lone worker keeps a session's default");
    assert.deepEqual(withThreads({ packDir: 'p', device: 'cpu' }, 2), { packDir: 'p', device: 'cpu', threads: threadShare(2) });
    assert.deepEqual(withThreads({ packDir: 'p', threads: 3 }, 2), { packDir: 'p', threads: 3 });
  });

  const procThreads = existsSync('/proc/self/task') && (sessionThreads() ?? 1) >= 2;
  it('a graph opened without a thread count computes on more than one core; with 1 thread on one', { skip: procThreads ? false : 'needs Linux /proc and at least 2 physical cores' }, async () => {
    assert.ok((await busyThreads()) >= 2, 'the default session computed on a single thread');
    assert.equal(await busyThreads(1), 1);
  });

  it("the built-in pack's small calls run on one thread, its large ones on every core", { skip: procThreads ? false : 'needs Linux /proc and at least 2 physical cores', timeout: 120_000 }, async () => {
    const pack = await loadPack(join(ROOT, 'models/flowedit-tiny'), { threads: 2 });
    const [h, w, C, L, D] = [32, 32, 4, 16, 128]; // its latent and text sizes (manifest.json)
    const text = { data: new Float32Array(L * D).fill(0.01), shape: [1, L, D] }; // [1, L, D]
    const latents = (frames: number) => ({ data: new Float32Array(C * frames * h * w).map((_, i) => Math.sin(i)), shape: [1, C, frames, h, w] }); // [1, C, F, H, W]
    const busy = async (frames: number, calls: number) => {
      const before = threadTicks();
      const x = latents(frames);
      for (let i = 0; i < calls; i++) await pack.transformer.forward({ latents: x, t: 0.5, text });
      const gains = [...threadTicks()].map(([id, t]) => t - (before.get(id) ?? 0));
      const most = Math.max(...gains);
      assert.ok(most >= 15, `the calls took ${most} ticks on their busiest thread: too little to tell threads apart`);
      return gains.filter((g) => g >= most / 6).length;
    };
    try {
      // a still's call: 80 tokens, about 0.3 GFLOP; a 17-frame clip's: 1104 tokens, about 6 GFLOP (SMALL_CALL_FLOP between)
      assert.equal(await busy(1, 80), 1, 'the still-sized calls computed on more than one thread');
      assert.ok((await busy(17, 6)) >= 2, 'the clip-sized calls computed on a single thread');
    } finally {
      await pack.release();
    }
  });
});
