/**
 * Wall time of a batch of still edits through the real CLI (model loads included), at each
 * concurrency given. Usage: npm run bench:batch -- [--items 20] [--concurrency 1,2] [--steps N] [--model <pack>]
 * Each run writes into a fresh folder; prints figures and asserts nothing (shared machines are noisy).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { items: { type: 'string', default: '20' }, concurrency: { type: 'string', default: '1,2' }, steps: { type: 'string' }, model: { type: 'string' } },
});
/** This script runs as dist/bench/batch-timing.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'flowedit-bench-batch-'));
const samples = [
  { file: 'red-circle-on-stripes.png', source: 'a red circle on stripes', target: (i: number) => `a blue circle on stripes, take ${i}` },
  { file: 'blue-square-and-star.png', source: 'a blue square and a yellow star on a gradient', target: (i: number) => `a red square and a yellow star, take ${i}` },
];
const n = Number(values.items);
const lines: string[] = [];
for (let i = 0; i < n; i++) {
  const s = samples[i % 2]!;
  lines.push(JSON.stringify({ id: `item${String(i).padStart(2, '0')}`, input: join(ROOT, 'samples', s.file), sourcePrompt: s.source, targets: { edit: s.target(i) } }));
}
const manifest = join(dir, 'bench.jsonl');
writeFileSync(manifest, `${lines.join('\n')}\n`);

console.log(`${n}-item still batch (one target each), pack ${values.model ?? 'built-in'}, steps ${values.steps ?? 'pack default'}`);
for (const c of values.concurrency.split(',').map(Number)) {
  const out = join(dir, `out-j${c}`);
  const args = [CLI, 'batch', manifest, '--out', out, '--allow-inputs-outside', '-j', String(c), '-q', ...(values.steps ? ['--steps', values.steps] : []), ...(values.model ? ['--model', values.model] : [])];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`batch -j ${c} failed (${r.status}): ${r.stderr}`);
  console.log(`  --concurrency ${c}: ${seconds.toFixed(2)} s wall  ${r.stdout.trim()}`);
}
