/**
 * The tool host (src/media/tool-host.ts): ffmpeg and ffprobe start without this process forking,
 * their data still flows both ways, and they stop when killed or when the thread that started
 * them ends. Linux only: elsewhere tools start directly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { findFfmpeg, startTool, type FfmpegTools } from '../../src/media/ffmpeg-tools.js';
import { hostsTools } from '../../src/media/tool-host.js';
import { tempDir } from '../paths.js';

const linux = hostsTools();
let tools: FfmpegTools;
let dir: string;
before(async () => {
  tools = await findFfmpeg();
  dir = await tempDir('flowedit-tool-host-');
});

/** Minor page faults taken while `buf` is written over once more. */
function faultsRewriting(buf: Buffer, value: number): number {
  const before = process.resourceUsage().minorPageFault;
  buf.fill(value);
  return process.resourceUsage().minorPageFault - before;
}

test('a tool starts without forking this process: pages written before it take no copy-on-write faults after it', { skip: !linux && 'tools start directly off Linux' }, async () => {
  const buf = Buffer.alloc(128 * 1024 * 1024, 1);
  const pages = buf.length / 4096;
  await (await startTool(tools.ffmpeg, ['-version'])).exited; // the thread's host starts here, itself a fork
  faultsRewriting(buf, 2);
  assert.ok(faultsRewriting(buf, 3) < pages / 20, 'pages still fault when nothing runs');

  const hosted = (await startTool(tools.ffmpeg, ['-version'])).exited;
  assert.equal((await hosted).code, 0);
  const afterHosted = faultsRewriting(buf, 4);

  // what a child started directly costs, measured the same way: the reason for the host
  await new Promise((resolve) => spawn(tools.ffmpeg, ['-version'], { stdio: 'ignore' }).once('close', resolve));
  const afterDirect = faultsRewriting(buf, 5);
  assert.ok(afterDirect > pages / 2, `a direct child made ${afterDirect} of ${pages} pages fault (expected most of them)`);
  assert.ok(afterHosted < pages / 20, `after a tool through the host, ${afterHosted} of ${pages} pages faulted`);
});

test('data flows through the host both ways: raw frames into ffmpeg and out again, byte for byte', async () => {
  const frame = Buffer.alloc(16 * 16 * 3);
  for (let i = 0; i < frame.length; i++) frame[i] = (i * 7) % 256;
  const frames = Buffer.concat(Array.from({ length: 40 }, (_, f) => frame.map((v) => (v + f) % 256)));
  const raw = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '16x16', '-r', '10'];
  const proc = await startTool(tools.ffmpeg, ['-nostdin', '-v', 'error', ...raw, '-i', 'pipe:0', ...raw, 'pipe:1'], { stdin: 'pipe', stdout: 'pipe' });
  const chunks: Buffer[] = [];
  proc.stdout!.on('data', (c: Buffer) => chunks.push(c));
  proc.stdin!.end(frames);
  const end = await proc.exited;
  assert.equal(end.code, 0, proc.stderrTail());
  assert.ok(Buffer.concat(chunks).equals(frames));
});

test('a tool that cannot start, and one killed, say so through how they ended', async () => {
  const missing = await startTool(join(dir, 'no-such-tool'), ['-version'], { stdout: 'pipe' });
  const gone = await missing.exited;
  // not started: an error (ENOENT), or through setpriv the exit status 127 of a command not found
  assert.ok(gone.error !== undefined || gone.code === 127, JSON.stringify(gone));

  // ffmpeg waiting for frames that never come, until killed
  const waiting = await startTool(tools.ffmpeg, ['-nostdin', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', '8x8', '-i', 'pipe:0', '-f', 'null', '-'], { stdin: 'pipe' });
  waiting.kill();
  assert.equal((await waiting.exited).signal, 'SIGKILL');

  const controller = new AbortController();
  const aborted = await startTool(tools.ffmpeg, ['-nostdin', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', '8x8', '-i', 'pipe:0', '-f', 'null', '-'], { stdin: 'pipe', signal: controller.signal });
  controller.abort();
  assert.equal((await aborted.exited).signal, 'SIGKILL');
});

/** Pids of running processes whose command line holds `marker`. */
async function runningWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (cmd.includes(marker) && !/^\d+ \(.*\) Z/.test(stat)) found.push(Number(name));
  }
  return found;
}

test('tools started from a worker thread stop when the thread is terminated', { skip: !linux && 'tools start directly off Linux', timeout: 60_000 }, async () => {
  const marker = `flowedit-test-${process.pid}-${Date.now()}`;
  const script = join(dir, 'long-tool.mjs');
  const tool = new URL('../../src/media/ffmpeg-tools.js', import.meta.url).href;
  await writeFile(
    script,
    [
      `import { parentPort } from 'node:worker_threads';`,
      `import { startTool } from ${JSON.stringify(tool)};`,
      // a minute of test pattern into nothing, named by the marker
      `await startTool(${JSON.stringify(tools.ffmpeg)}, ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=25', '-t', '60', '-metadata', 'title=${marker}', '-f', 'null', '-']);`,
      `parentPort.postMessage('started');`,
      `setInterval(() => undefined, 1000);`,
    ].join('\n'),
  );
  const worker = new Worker(script);
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  let pids: number[] = [];
  for (const start = performance.now(); pids.length === 0 && performance.now() - start < 10_000; await new Promise((r) => setTimeout(r, 20))) pids = await runningWith(marker);
  assert.equal(pids.length, 1, 'the tool runs while its thread does');
  await worker.terminate();
  const deadline = performance.now() + 2_000;
  while ((await runningWith(marker)).length > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const left = await runningWith(marker);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  assert.deepEqual(left, [], 'the tool still ran 2 s after its thread was terminated');
});
