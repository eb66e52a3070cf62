/**
 * Reading and writing video under CPU load: many reads and writes of a short clip while other
 * processes burn every core, counting failures (there should be none: nothing in the video I/O
 * may depend on how fast ffmpeg's exit is noticed).
 * Usage: node dist/bench/video-stress.js [--reads 200] [--writes 50] [--burners 2] [--parallel 2]
 * Prints the counts and the first errors; exits with status 1 when any read or write failed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { findFfmpeg } from '../src/media/ffmpeg-tools.js';
import { readVideo, writeVideo } from '../src/media/video.js';

const { values } = parseArgs({
  options: { reads: { type: 'string' }, writes: { type: 'string' }, burners: { type: 'string' }, parallel: { type: 'string' } },
});
const reads = Number(values.reads ?? 200);
const writes = Number(values.writes ?? 50);
const burners = Number(values.burners ?? 2);
const parallel = Number(values.parallel ?? 2);

const tools = await findFfmpeg();
const dir = await mkdtemp(join(tmpdir(), 'flowedit-video-stress-'));
const clipPath = join(dir, 'short.mp4');
await promisify(execFile)(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=96x64:rate=12', '-frames:v', '6', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clipPath]);
const clip = await readVideo(clipPath, { tools });

// CPU burners: separate processes spinning on every cycle they get
const burning: ChildProcess[] = Array.from({ length: burners }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));

const errors: string[] = [];
let failedReads = 0;
let failedWrites = 0;
/** Runs `count` tasks, `parallel` at a time. */
async function pool(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) await task(next++);
  }));
}
const started = performance.now();
try {
  await pool(reads, async () => {
    try {
      const back = await readVideo(clipPath, { tools });
      if (back.frames.length !== clip.frames.length) throw new Error(`read ${back.frames.length} frames instead of ${clip.frames.length}`);
    } catch (err) {
      failedReads += 1;
      errors.push(`read: ${(err as Error).message}`);
    }
  });
  await pool(writes, async (i) => {
    const out = join(dir, `out-${i}.mp4`);
    try {
      await writeVideo(out, clip.frames, { rate: clip.rate, tools });
      const back = await readVideo(out, { tools });
      if (back.frames.length !== clip.frames.length) throw new Error(`wrote ${back.frames.length} frames instead of ${clip.frames.length}`);
    } catch (err) {
      failedWrites += 1;
      errors.push(`write: ${(err as Error).message}`);
    }
    await rm(out, { force: true });
  });
} finally {
  for (const b of burning) b.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
}
const seconds = (performance.now() - started) / 1000;
console.log(`video stress: ${reads} reads, ${writes} writes (each read back), ${parallel} at a time, ${burners} CPU burners, ${seconds.toFixed(1)} s`);
console.log(`  failed reads  ${failedReads}`);
console.log(`  failed writes ${failedWrites}`);
for (const e of errors.slice(0, 5)) console.log(`  ${e}`);
if (failedReads + failedWrites > 0) process.exitCode = 1;
