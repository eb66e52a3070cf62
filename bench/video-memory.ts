/**
 * Memory and time of decoding a long full-HD clip for the model: a synthetic 1920×1080 clip of
 * 300 frames (ffmpeg's testsrc2, made once in the temporary folder) decoded by flowedit straight
 * to the pack's working size, against `ffmpeg -f null` decoding the same clip alone, each in its
 * own child process under /usr/bin/time -v (peak resident memory, wall time); then, unless
 * --no-cli, `flowedit invert --steps 2` on the clip end to end.
 * Usage: node dist/bench/video-memory.js [--frames 300] [--size 1920x1080] [--model <pack>] [--no-cli]
 * Prints figures; asserts nothing (timings on shared machines are noisy).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { decodeWorkFrames, planWorkSize } from '../src/edit/frames/pipeline.js';
import { decodeSizeFor } from '../src/media/fit.js';
import { findFfmpeg } from '../src/media/ffmpeg-tools.js';
import { timed } from './timed.js';
import { probeVideo } from '../src/media/video.js';
import { builtinPackDir } from '../src/model/builtin.js';
import { readPack } from '../src/model/pack.js';

const { values } = parseArgs({
  options: {
    frames: { type: 'string' },
    size: { type: 'string' },
    model: { type: 'string' },
    'no-cli': { type: 'boolean' },
    /** internal: run the decode in this process and print its figures as JSON */
    child: { type: 'string' },
  },
});
const packDir = values.model ?? builtinPackDir();
const tools = await findFfmpeg();

if (values.child) {
  // the measured side: probe, plan the working size and decode to it
  const pack = await readPack(packDir);
  const t0 = performance.now();
  const info = await probeVideo(values.child, tools);
  const fit = planWorkSize(pack as Parameters<typeof planWorkSize>[0], info.width, info.height, 'pad');
  const work = await decodeWorkFrames(values.child, info, fit, { tools });
  const seconds = (performance.now() - t0) / 1000;
  const size = decodeSizeFor(fit);
  console.log(JSON.stringify({ seconds, frames: work.length, decodeSize: `${size.width}x${size.height}`, work: `${fit.workWidth}x${fit.workHeight}`, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

const frames = Number(values.frames ?? 300);
const size = values.size ?? '1920x1080';
const clip = join(tmpdir(), `flowedit-bench-${size}-${frames}.mp4`);
if (!existsSync(clip)) {
  console.log(`making ${clip} (testsrc2, ${size}, ${frames} frames) …`);
  await promisify(execFile)(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', clip]);
}

const row = (label: string, seconds: number, mib: number, note = '') => console.log(`  ${label.padEnd(52)} ${seconds.toFixed(2).padStart(7)} s ${mib.toFixed(0).padStart(7)} MiB peak RSS ${note}`);
console.log(`clip ${clip}: ${size}, ${frames} frames; pack ${packDir}`);
const alone = await timed(tools.ffmpeg, ['-v', 'error', '-nostdin', '-i', clip, '-f', 'null', '-']);
row('ffmpeg -f null (decode alone)', alone.seconds, alone.maxRssMiB);
const script = fileURLToPath(import.meta.url);
const ours = await timed(process.execPath, [script, '--child', clip, ...(values.model ? ['--model', values.model] : [])]);
const figures = JSON.parse(ours.stdout.trim().split('\n').pop()!) as { seconds: number; frames: number; decodeSize: string; work: string };
row(`flowedit decode to working size (${figures.decodeSize} → ${figures.work})`, figures.seconds, ours.maxRssMiB, `(${figures.frames} frames: ${(figures.seconds / alone.seconds).toFixed(2)}× ffmpeg alone; ${ours.seconds.toFixed(2)} s with Node's start)`);
if (!values['no-cli']) {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const out = join(tmpdir(), `flowedit-bench-${size}-${frames}.flowinv`);
  const inv = await timed(process.execPath, [cli, 'invert', clip, '--source-prompt', 'a test pattern', '--steps', '2', '--quiet', '--model', packDir, '--force', '-o', out]);
  row('flowedit invert --steps 2 (CLI, end to end)', inv.seconds, inv.maxRssMiB);
}
