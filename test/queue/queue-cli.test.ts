/**
 * The Redis batch queue from the command line, on a throwaway redis-server: batch --queue adds one
 * job per item and never twice, a worker process makes them byte for byte as a local batch does,
 * SIGTERM lets the running job finish, queue status/retry-failed/drain, the password hidden
 * everywhere, and clear errors for a bad URL or a Redis that is not there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodePng, readImage } from '../../src/media/image.js';
import { CLI, TINY, tempDir } from '../paths.js';
import { flowedit, type Result } from '../cli/run.js';
import { startRedis, type TestRedis } from './redis.js';

const PASSWORD = 'pw-Zq81-never-shown';
let redis: TestRedis;
let dir: string;
let db = 0;
/** A fresh database of the test server for each test, behind a password. */
const nextUrl = () => `redis://:${PASSWORD}@127.0.0.1:${redis.port}/${++db}`;

/** One Redis command over a raw connection (RESP), for setting up the server. */
function redisCommand(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('error', reject);
    s.once('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString());
    });
  });
}

before(async () => {
  redis = await startRedis();
  assert.match(await redisCommand(redis.port, ['CONFIG', 'SET', 'requirepass', PASSWORD]), /^\+OK/);
  dir = await tempDir('flowedit-queue-');
  for (let i = 0; i < 4; i++) {
    const data = new Float32Array(64 * 64 * 3).map((_, k) => Math.sin(k * (0.01 + i * 0.003)) * 0.8);
    await writeFile(join(dir, `in${i}.png`), await encodePng({ width: 64, height: 64, data }));
  }
});
after(async () => redis?.stop());

/** A manifest of `n` items with two targets each. */
async function manifest(name: string, n: number, prompt = 'a red square'): Promise<string> {
  const lines = ['items:'];
  for (let i = 0; i < n; i++) lines.push(`  - id: it${i}`, `    input: in${i % 4}.png`, '    sourcePrompt: stripes', '    targets:', `      a: ${prompt} ${i}`, `      b: a blue square ${i}`);
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

const batchArgs = (file: string, out: string) => ['batch', file, '--out', out, '--model', TINY, '--steps', '2'];
const queued = (r: Result) => {
  const m = /queued (\d+) items \((\d+) outputs\) to (\S+) queue flowedit-batch; (\d+) already done(?:, (\d+) already queued)?/.exec(r.stdout);
  assert.ok(m, `no "queued" line: ${r.stdout}${r.stderr}`);
  return { items: Number(m[1]), outputs: Number(m[2]), url: m[3], done: Number(m[4]), present: Number(m[5] ?? 0) };
};
async function status(url: string): Promise<{ counts: Record<string, number>; failed: { id: string; reason: string }[] }> {
  const r = await flowedit(['queue', 'status', url, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}
const noPassword = (text: string, what: string) => assert.ok(!text.includes(PASSWORD), `${what} shows the password`);

interface WorkerRun {
  readonly events: Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  /**
   * Sends `sig` to the worker, once: later calls with the same signal do nothing. (An event handler
   * that signals on a condition keeps seeing it true on the worker's next events; a second SIGTERM
   * landing while the process ends would end it by the signal, with no exit code.)
   */
  signal(sig: NodeJS.Signals): void;
}
/** A worker process with --progress json; `onEvent` sees each event as it comes. */
function worker(url: string, onEvent: (e: Record<string, unknown>, w: WorkerRun) => void = () => undefined, extra: readonly string[] = []): WorkerRun {
  const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--progress', 'json', '--threads', '1', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLOWEDIT_QUEUE_STALLED_MS: '2000' } });
  let stderr = '';
  let rest = '';
  const sent = new Set<NodeJS.Signals>();
  const run: WorkerRun = {
    events: [],
    exited: new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr }))),
    signal: (sig) => {
      if (sent.has(sig)) return;
      sent.add(sig);
      child.kill(sig);
    },
  };
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    rest += d;
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as Record<string, unknown>;
      run.events.push(e);
      onEvent(e, run);
    }
  });
  return run;
}
const sha = async (f: string) => (await import('node:crypto')).createHash('sha256').update(await readFile(f)).digest('hex');

test('batch --queue adds one job per item, never twice; a worker makes them as a local batch does; --wait reports', async () => {
  const url = nextUrl();
  const file = await manifest('three.yaml', 3);
  const out = join(dir, 'out-queued');
  const first = await flowedit([...batchArgs(file, out), '--queue', url]);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(queued(first), { items: 3, outputs: 6, url: url.replace(PASSWORD, '***'), done: 0, present: 0 });
  const again = await flowedit([...batchArgs(file, out), '--queue', url]);
  assert.deepEqual(queued(again), { items: 0, outputs: 0, url: url.replace(PASSWORD, '***'), done: 0, present: 3 });
  assert.deepEqual((await status(url)).counts, { waiting: 3, active: 0, completed: 0, failed: 0, delayed: 0 });

  // a worker drains it while --wait follows the batch (the --wait run re-queues nothing)
  const w = worker(url);
  const waited = await flowedit([...batchArgs(file, out), '--queue', url, '--wait', '--progress', 'plain']);
  w.signal('SIGTERM');
  const ended = await w.exited;
  assert.equal(waited.code, 0, waited.stderr);
  assert.equal(ended.code, 0, ended.stderr);
  assert.equal(queued(waited).present, 3);
  const report = JSON.parse(await readFile(join(out, 'batch-report.json'), 'utf8'));
  assert.deepEqual(report.counts, { done: 3, skipped: 0, failed: 0, cancelled: 0 });
  const written = w.events.filter((e) => e.event === 'output').map((e) => e.file as string).sort();
  assert.deepEqual(written, ['it0-a.png', 'it0-b.png', 'it1-a.png', 'it1-b.png', 'it2-a.png', 'it2-b.png']);

  // the same manifest run locally: the same bytes, the same sidecars
  const local = join(dir, 'out-local');
  const l = await flowedit(batchArgs(file, local));
  assert.equal(l.code, 0, l.stderr);
  for (const name of written) {
    const img = await readImage(join(out, name));
    assert.deepEqual([img.width, img.height], [64, 64]);
    assert.equal(await sha(join(out, name)), await sha(join(local, name)), `${name}: the worker's bytes differ from a local batch's`);
    const side = name.replace(/\.png$/, '.json');
    assert.deepEqual(JSON.parse(await readFile(join(out, side), 'utf8')), JSON.parse(await readFile(join(local, side), 'utf8')));
  }
  assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.tmp')), [], 'no temporary files');
  // queued again once done: nothing added
  assert.deepEqual(queued(await flowedit([...batchArgs(file, out), '--queue', url])), { items: 0, outputs: 0, url: url.replace(PASSWORD, '***'), done: 3, present: 0 });
  // the password is in no output, report or sidecar
  for (const text of [first.stdout, first.stderr, waited.stdout, waited.stderr, ended.stderr]) noPassword(text, 'a command\'s output');
  for (const f of await readdir(out)) if (f.endsWith('.json')) noPassword(await readFile(join(out, f), 'utf8'), f);
});

test('SIGTERM: the worker takes no new job, finishes the running one and exits 0', async () => {
  const url = nextUrl();
  const file = await manifest('four.yaml', 4);
  const out = join(dir, 'out-term');
  assert.equal(queued(await flowedit([...batchArgs(file, out), '--queue', url])).items, 4);
  let sent = false;
  const w = worker(url, (e, run) => {
    if (!sent && e.event === 'job-start') {
      sent = true;
      run.signal('SIGTERM');
    }
  });
  const ended = await w.exited;
  assert.ok(sent, ended.stderr);
  assert.equal(ended.code, 0, ended.stderr);
  const started = w.events.filter((e) => e.event === 'job-start');
  assert.equal(started.length, 1, 'no job is taken after SIGTERM');
  assert.deepEqual(
    w.events.filter((e) => e.event === 'job-done').map((e) => e.job),
    [started[0]!.job],
    'the running job was finished',
  );
  const item = started[0]!.item as string;
  const side = JSON.parse(await readFile(join(out, `${item}-b.json`), 'utf8'));
  assert.equal(side.outputSha256, await sha(join(out, `${item}-b.png`)));
  assert.deepEqual((await status(url)).counts, { waiting: 3, active: 0, completed: 1, failed: 0, delayed: 0 });
});

test('queue status lists failed jobs with reasons; retry-failed queues them again; drain removes the waiting ones', async () => {
  const url = nextUrl();
  const file = await manifest('changing.yaml', 2);
  const out = join(dir, 'out-changing');
  assert.equal(queued(await flowedit([...batchArgs(file, out), '--queue', url])).items, 2);
  // the manifest changes after the jobs were queued: the worker refuses them
  await manifest('changing.yaml', 2, 'a green square');
  let w = worker(url, (e, run) => {
    if (run.events.filter((x) => x.event === 'job-failed').length === 2) run.signal('SIGTERM');
  });
  assert.equal((await w.exited).code, 0);
  const s = await status(url);
  assert.deepEqual([s.counts.failed, s.counts.completed], [2, 0]);
  for (const f of s.failed) assert.match(f.reason, /the manifest changed since it was queued/);
  const plain = await flowedit(['queue', 'status', url]);
  assert.match(plain.stdout, /2 failed/);
  assert.match(plain.stdout, /retry-failed/);
  noPassword(plain.stdout, 'queue status');

  // put back as queued, and retried: both done
  await manifest('changing.yaml', 2);
  const retried = await flowedit(['queue', 'retry-failed', url]);
  assert.match(retried.stdout, /queued again 2 failed jobs/);
  w = worker(url, (e, run) => {
    if (run.events.filter((x) => x.event === 'job-done').length === 2) run.signal('SIGTERM');
  });
  assert.equal((await w.exited).code, 0);
  assert.deepEqual((await status(url)).counts, { waiting: 0, active: 0, completed: 2, failed: 0, delayed: 0 });

  // drain: the waiting jobs of another batch are removed, the finished ones stay
  const other = await manifest('other.yaml', 3, 'a yellow square');
  assert.equal(queued(await flowedit([...batchArgs(other, join(dir, 'out-other')), '--queue', url])).items, 3);
  const drained = await flowedit(['queue', 'drain', url]);
  assert.match(drained.stdout, /removed 3 waiting jobs/);
  assert.deepEqual((await status(url)).counts, { waiting: 0, active: 0, completed: 2, failed: 0, delayed: 0 });
});

test('a bad URL is a usage error; a Redis that is not there is said within seconds, its password hidden', async () => {
  const file = await manifest('one.yaml', 1);
  for (const args of [
    [...batchArgs(file, join(dir, 'never')), '--queue', 'localhost:6379'],
    ['worker', '--queue', 'http://h:1'],
    ['queue', 'status', 'redis://h:1/x'],
    [...batchArgs(file, join(dir, 'never')), '--wait'],
  ]) {
    const r = await flowedit(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  // a port nothing listens on (the test server's, stopped for a moment would also do)
  const dead = `redis://:${PASSWORD}@127.0.0.1:1/0`;
  for (const args of [[...batchArgs(file, join(dir, 'never')), '--queue', dead], ['worker', '--queue', dead], ['queue', 'status', dead]]) {
    const t0 = performance.now();
    const r = await flowedit(args);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.ok(performance.now() - t0 < 20_000, `${args[0]} took too long to give up`);
    assert.match(r.stderr, /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/);
    assert.match(r.stderr, /redis-server/);
    noPassword(r.stdout + r.stderr, args[0]!);
  }
});

test('worker --root: a job whose manifest, output folder or pack lies outside every root fails unrun', async () => {
  const url = nextUrl();
  const file = await manifest('rooted.yaml', 1);
  const out = join(dir, 'out-rooted');
  assert.equal(queued(await flowedit([...batchArgs(file, out), '--queue', url])).items, 1);
  const elsewhere = await tempDir('flowedit-root-');
  let w = worker(url, (e, run) => {
    if (e.event === 'job-failed') run.signal('SIGTERM');
  }, ['--root', elsewhere]);
  assert.equal((await w.exited).code, 0);
  const failed = w.events.find((e) => e.event === 'job-failed');
  assert.match(String(failed?.reason), /the job's manifest .* is outside the folders this worker serves/);
  assert.ok(!w.events.some((e) => e.event === 'output'), 'nothing written');
  // served roots: the manifest's folder and the pack's
  assert.match((await flowedit(['queue', 'retry-failed', url])).stdout, /queued again 1 failed job/);
  w = worker(url, (e, run) => {
    if (e.event === 'job-done') run.signal('SIGTERM');
  }, ['--root', dir, TINY]);
  assert.equal((await w.exited).code, 0);
  assert.deepEqual((await status(url)).counts.completed, 1);
  const bad = await flowedit(['worker', '--queue', url, '--root', join(elsewhere, 'missing')]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--root .*missing is not a folder/);
});
