/**
 * Items per minute through the Redis queue with 1, 2 and 3 worker processes on this machine:
 * a throwaway redis-server, one batch enqueued per run (a fresh output folder), the workers
 * started together, timed from their start until the queue holds every job completed (model
 * loads included). Usage: npm run bench:queue -- [--items 12] [--workers 1,2,3] [--steps 8] [--model <pack>]
 * Needs redis-server (Debian's package). Prints figures and asserts nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/queue/redis.js';

const { values } = parseArgs({
  options: { items: { type: 'string', default: '12' }, workers: { type: 'string', default: '1,2,3' }, steps: { type: 'string', default: '8' }, model: { type: 'string' } },
});
/** This script runs as dist/bench/queue-throughput.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const n = Number(values.items);
const dir = mkdtempSync(join(tmpdir(), 'flowedit-bench-queue-'));
const lines: string[] = [];
for (let i = 0; i < n; i++) {
  lines.push(JSON.stringify({ id: `item${String(i).padStart(2, '0')}`, input: join(ROOT, 'samples/scenes/still-1.png'), sourcePrompt: 'a purple square and a black triangle on blue dots', targets: { edit: `a red square and a black triangle on blue dots, take ${i}` } }));
}
const manifest = join(dir, 'bench.jsonl');
writeFileSync(manifest, `${lines.join('\n')}\n`);
const model = values.model ? ['--model', values.model] : [];
const cores = availableParallelism();

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`flowedit ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

console.log(`queue throughput: ${n} still edits (built-in scene, ${values.steps} steps${values.model ? `, ${values.model}` : ''}), ${cores} cores`);
console.log('workers  threads each  wall (s)  items/min');
for (const w of values.workers.split(',').map(Number)) {
  const redis = await startRedis();
  try {
    cli(['batch', manifest, '--out', join(dir, `out-${w}`), '--queue', redis.url, '--allow-inputs-outside', '--steps', values.steps, ...model, '-q']);
    const threads = Math.max(1, Math.floor(cores / w));
    const started = performance.now();
    const workers = Array.from({ length: w }, () => spawn(process.execPath, [CLI, 'worker', '--queue', redis.url, '--threads', String(threads), '--progress', 'none'], { stdio: 'ignore' }));
    for (;;) {
      const s = JSON.parse(cli(['queue', 'status', redis.url, '--json']));
      const counts = s.counts ?? s;
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= n) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - started) / 1000;
    await Promise.all(workers.map((c) => new Promise((r) => { c.once('close', r); c.kill('SIGTERM'); })));
    console.log(`${String(w).padStart(7)}  ${String(threads).padStart(12)}  ${seconds.toFixed(1).padStart(8)}  ${((n / seconds) * 60).toFixed(1).padStart(9)}`);
  } finally {
    await redis.stop();
  }
}
