/**
 * At least once, nothing lost: a 30-item batch on the queue, three worker processes killed with
 * SIGKILL at random moments and restarted, and Redis itself restarted mid-batch. Every output
 * must be made exactly once, decode, and match its sidecar; no temporary file may be left.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readImage } from '../../src/media/image.js';
import { CLI, SAMPLE, TINY, tempDir } from '../paths.js';
import { flowedit } from '../cli/run.js';
import { startRedis, type TestRedis } from './redis.js';
import { rng } from '../model/tokenizer-prompts.js';

const ITEMS = 30;
const KILLS = 6;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: TestRedis | undefined;
after(async () => redis?.stop());

interface Worker {
  child: ChildProcess;
  stderr: string;
  /** resolves once the worker says it is taking jobs (its signal handlers are in place) */
  ready: Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** the process has ended (killed, or it gave up: a worker started while Redis was down exits 1) */
  ended: boolean;
}

function startWorker(url: string, log: string[]): Worker {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--progress', 'json', '--threads', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, FLOWEDIT_QUEUE_STALLED_MS: '1000' },
  });
  let isReady = () => {};
  const w: Worker = { child, stderr: '', ready: new Promise((r) => (isReady = r)), ended: false, exit: new Promise((r) => child.once('close', (code, signal) => r({ code, signal }))) };
  void w.exit.then(() => {
    w.ended = true;
    isReady();
  });
  child.stderr!.on('data', (d: Buffer) => {
    w.stderr += d.toString();
    const lines = w.stderr.split('\n');
    w.stderr = lines.pop()!;
    log.push(...lines);
    if (lines.some((l) => l.includes('"event":"ready"'))) isReady();
  });
  return w;
}

test('30 items, 3 workers killed and restarted at random, Redis restarted: every output once', async () => {
  const seed = Number(process.env.FLOWEDIT_KILL_SEED ?? Date.now() % 100000);
  const rand = rng(seed);
  redis = await startRedis();
  const dir = await tempDir('flowedit-queue-kill-');
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  const lines = ['items:'];
  for (let i = 0; i < ITEMS; i++) lines.push(`  - id: item${i}`, '    input: circle.png', '    sourcePrompt: a red circle on stripes', '    targets:', `      blue: a blue circle number ${i}`);
  const manifest = join(dir, 'batch.yaml');
  await writeFile(manifest, `${lines.join('\n')}\n`);
  const out = join(dir, 'out');

  // 1. enqueue, then three workers drain the queue
  const queued = await flowedit(['batch', manifest, '--out', out, '--queue', redis.url, '--model', TINY, '--steps', '8', '--seed', '5', '-q']);
  assert.equal(queued.code, 0, queued.stderr);
  const events: string[] = [];
  const workers = [0, 1, 2].map(() => startWorker(redis!.url, events));

  // 2. watch each output appear: an output replaced later (a new inode) was written twice
  const firstSeen = new Map<string, number>();
  const watch = async () => {
    // outputs in place (not the staged copies, whose names start with a dot)
    for (const f of (await readdir(out).catch(() => [] as string[])).filter((n) => n.endsWith('.png') && !n.startsWith('.'))) {
      const st = await stat(join(out, f)).catch(() => null);
      if (st && !firstSeen.has(f)) firstSeen.set(f, st.ino);
    }
  };

  // 3. kill a random worker at random moments (restarting it), and restart Redis once mid-batch
  let kills = 0;
  let redisRestarted = false;
  const deadline = Date.now() + 150_000;
  while (firstSeen.size < ITEMS && Date.now() < deadline) {
    await sleep(100 + rand() * 400);
    await watch();
    if (kills < KILLS && firstSeen.size >= (kills * ITEMS) / (KILLS + 4)) {
      const i = Math.floor(rand() * workers.length);
      workers[i]!.child.kill('SIGKILL');
      await workers[i]!.exit;
      kills++;
      workers[i] = startWorker(redis.url, events);
    }
    // as a supervisor would: a worker that gave up (it started while Redis was down) is started again
    for (const [i, w] of workers.entries()) if (w.ended) workers[i] = startWorker(redis.url, events);
    if (!redisRestarted && firstSeen.size >= ITEMS / 2) {
      await redis.stop();
      await sleep(500);
      await redis.start();
      redisRestarted = true;
    }
  }
  await watch();
  // 4. the queue says every job completed; then SIGTERM lets the workers go (exit 0)
  let status: { completed?: number; failed?: number } = {};
  while (Date.now() < deadline) {
    const s = await flowedit(['queue', 'status', redis.url, '--json']);
    status = JSON.parse(s.stdout || '{}').counts ?? JSON.parse(s.stdout || '{}');
    if ((status.completed ?? 0) + (status.failed ?? 0) >= ITEMS) break;
    await sleep(500);
  }
  // SIGTERM's promise is for a worker taking jobs: one restarted a moment ago may still be starting
  for (let tries = 0; tries < 20 && workers.some((w) => w.ended); tries++) {
    for (const [i, w] of workers.entries()) if (w.ended) workers[i] = startWorker(redis.url, events);
    await Promise.all(workers.map((w) => w.ready));
  }
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.kill('SIGTERM');
  const exits = await Promise.all(workers.map((w) => w.exit));

  // 5. what was made (the workers' events kept beside the outputs, for a failure's reader)
  await writeFile(join(dir, 'worker-events.jsonl'), `${events.join('\n')}\n`);
  const files = await readdir(out);
  const pngs = files.filter((f) => f.endsWith('.png') && !f.startsWith('.')).sort();
  const written = new Map<string, number>();
  const starts = new Map<string, number>();
  for (const line of events) {
    const e = (() => {
      try {
        return JSON.parse(line) as { event?: string; file?: string; job?: string; item?: string };
      } catch {
        return {};
      }
    })();
    if (e.event === 'output' && e.file) written.set(e.file, (written.get(e.file) ?? 0) + 1);
    if (e.event === 'job-start' && (e.job ?? e.item)) starts.set(String(e.job ?? e.item), (starts.get(String(e.job ?? e.item)) ?? 0) + 1);
  }
  const rewritten: string[] = [];
  for (const f of pngs) {
    const st = await stat(join(out, f));
    if (firstSeen.has(f) && st.ino !== firstSeen.get(f)) rewritten.push(`${f} (inode ${firstSeen.get(f)} then ${st.ino})`);
  }
  const twice = [...written].filter(([, n]) => n > 1).map(([f]) => f);
  const redelivered = [...starts.values()].filter((n) => n > 1).length;
  console.log(`# kill test (seed ${seed}): ${kills} SIGKILLs, Redis restarted: ${redisRestarted}, outputs ${pngs.length}/${ITEMS}, jobs started more than once ${redelivered}, outputs written twice ${twice.length + rewritten.length}, completed ${status.completed}, failed ${status.failed}`);

  assert.ok(kills >= 5, `only ${kills} kills happened before the batch ended`);
  assert.ok(redisRestarted, 'Redis was not restarted mid-batch');
  assert.equal(pngs.length, ITEMS, `outputs: ${pngs.join(', ')}; queue ${JSON.stringify(status)}; the workers' events: ${join(dir, 'worker-events.jsonl')}`);
  assert.equal(status.completed, ITEMS, `queue counts: ${JSON.stringify(status)}`);
  assert.deepEqual(twice, [], 'outputs reported written twice');
  assert.deepEqual(rewritten, [], 'outputs replaced after they first appeared');
  assert.deepEqual(exits.map((e) => e.code), [0, 0, 0], 'SIGTERM lets each worker finish and exit 0');
  assert.deepEqual(files.filter((f) => f.startsWith('.')), [], 'no temporary, staged or lock file left');
  for (const f of pngs) {
    const png = await readFile(join(out, f));
    const side = JSON.parse(await readFile(join(out, f.replace(/\.png$/, '.json')), 'utf8'));
    assert.equal(side.outputSha256, sha(png), `${f}: sidecar matches`);
    const img = await readImage(join(out, f));
    assert.ok(img.width > 0 && img.height > 0, `${f} decodes`);
  }
});
